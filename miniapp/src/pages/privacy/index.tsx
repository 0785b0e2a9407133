import { Text, View } from '@tarojs/components'
import Taro from '@tarojs/taro'
import { useState } from 'react'
import Failure from '../../components/Failure'
import Shell from '../../components/Shell'
import { RETENTION_DAYS } from '../../lib/history'
import { t } from '../../lib/i18n'
import { deleteMyData } from '../../lib/privacy'
import { api, sessions, useLanguage } from '../../services/app'
import { taroStore } from '../../services/storage'
import './index.scss'

/** The privacy policy: what is sent, kept, shared and for how long; "delete my data". */
export default function PrivacyPage() {
  const lang = useLanguage()
  const [notice, setNotice] = useState<{ server: number; local: number } | undefined>()
  /** "delete my data" failed on the server (nothing was deleted): a retry */
  const [failure, setFailure] = useState<unknown>()
  const [busy, setBusy] = useState(false)

  const remove = async () => {
    if (busy) return
    const { confirm } = await Taro.showModal({
      title: t(lang, 'deleteMyData'),
      content: t(lang, 'deleteMyDataConfirm'),
      confirmText: t(lang, 'confirm'),
      cancelText: t(lang, 'close'),
    })
    if (!confirm) return
    setBusy(true)
    setFailure(undefined)
    setNotice(undefined)
    try {
      setNotice(await deleteMyData(taroStore, api, sessions))
    } catch (error) {
      setFailure(error ?? new Error('failed'))
    } finally {
      setBusy(false)
    }
  }

  return (
    <Shell page='privacy' title={t(lang, 'privacyTitle')}>
      <View className='card' id='privacy-policy'>
        <Text className='card__hint'>{t(lang, 'privacySent')}</Text>
        <Text className='card__hint'>{t(lang, 'privacyKept', { days: RETENTION_DAYS })}</Text>
        <Text className='card__hint'>{t(lang, 'privacyShared')}</Text>
        <Text className='card__hint'>{t(lang, 'privacyName')}</Text>
        <Text className='card__hint'>{t(lang, 'privacyDelete')}</Text>
      </View>
      {notice ? (
        <View className='notice' role='alert' id='privacy-notice'>
          <Text>{t(lang, 'deleteMyDataDone', { server: notice.server, local: notice.local })}</Text>
        </View>
      ) : null}
      {failure !== undefined ? (
        <Failure error={failure} lang={lang} onRetry={() => void remove()} busy={busy} id='privacy-notice' />
      ) : null}
      <View className='actions'>
        <View className='btn-ghost' id='btn-delete-my-data' onClick={remove} role='button'>
          <Text>{t(lang, 'deleteMyData')}</Text>
        </View>
      </View>
    </Shell>
  )
}
