import { Text, View } from '@tarojs/components'
import Taro, { useDidShow } from '@tarojs/taro'
import { useState } from 'react'
import Shell from '../../components/Shell'
import { formatDate, isoDay, readingTitle } from '../../lib/format'
import { RETENTION_DAYS, type HistoryEntry } from '../../lib/history'
import { t } from '../../lib/i18n'
import { history, useLanguage } from '../../services/app'
import './index.scss'

export default function HistoryPage() {
  const lang = useLanguage()
  const [entries, setEntries] = useState<HistoryEntry[]>(() => history.list())

  useDidShow(() => setEntries(history.list()))

  const open = (entry: HistoryEntry) => {
    if (entry.status === 'succeeded' || entry.status === 'expired' || entry.status === 'failed' || entry.status === 'cancelled') {
      void Taro.navigateTo({ url: `/pages/result/index?id=${entry.id}` })
    } else {
      void Taro.navigateTo({ url: `/pages/waiting/index?id=${entry.id}` })
    }
  }

  const clear = async () => {
    const { confirm } = await Taro.showModal({
      title: t(lang, 'historyClearConfirm'),
      content: '',
      confirmText: t(lang, 'confirm'),
      cancelText: t(lang, 'close'),
    })
    if (!confirm) return
    history.clear()
    setEntries([])
  }

  return (
    <Shell page='history' title={t(lang, 'historyTitle')} subtitle={<Text>{t(lang, 'historyKeep', { days: RETENTION_DAYS })}</Text>}>
      {entries.length === 0 ? (
        <View className='card empty'>
          <Text className='card__hint'>{t(lang, 'historyEmpty')}</Text>
          <View className='actions'>
            <View className='btn-primary' onClick={() => Taro.reLaunch({ url: '/pages/index/index' })}>
              <Text>{t(lang, 'start')}</Text>
            </View>
          </View>
        </View>
      ) : (
        <View className='history' id='history-list'>
          {entries.map((entry) => {
            const expired = entry.status === 'expired'
            const badge = expired
              ? t(lang, 'historyExpired')
              : entry.status === 'succeeded'
                ? String(entry.overall ?? '')
                : entry.status === 'failed' || entry.status === 'cancelled'
                  ? t(lang, 'historyFailed')
                  : t(lang, 'historyPending')
            return (
              <View key={entry.id} className={`card history__item ${expired ? 'history__item--expired' : ''}`} onClick={() => open(entry)}>
                <View className='history__main'>
                  <Text className='history__title'>
                    {entry.request.profile.name ? `${entry.request.profile.name} · ` : ''}
                    {readingTitle(entry.request.topic, entry.request.period, lang)}
                  </Text>
                  <Text className='history__date'>{formatDate(entry.request.date ?? isoDay(entry.createdAt), lang)}</Text>
                  {entry.summary && !expired ? <Text className='history__summary'>{entry.summary}</Text> : null}
                </View>
                <Text className={`history__badge ${entry.status === 'succeeded' ? 'history__badge--score' : ''}`}>{badge}</Text>
              </View>
            )
          })}
          <View className='actions'>
            <View className='btn-ghost' id='btn-clear-history' onClick={clear}>
              <Text>{t(lang, 'historyClear')}</Text>
            </View>
          </View>
        </View>
      )}
    </Shell>
  )
}
