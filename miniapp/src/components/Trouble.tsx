import { Text, View } from '@tarojs/components'
import Taro from '@tarojs/taro'
import { useState } from 'react'
import { describeError } from '../lib/errors'
import { t } from '../lib/i18n'
import type { FortuneRequestBody, Language } from '../lib/types'
import { askAgain } from '../services/reading'

export type TroubleKind = 'expired' | 'failed' | 'cancelled' | 'notFound'

const TITLES = {
  expired: ['expiredTitle', 'expiredBody'],
  failed: ['failedTitle', 'failedBody'],
  cancelled: ['cancelledTitle', 'cancelledBody'],
  notFound: ['notFoundTitle', 'notFoundBody'],
} as const

/** A glyph in a circle per case (CJK characters: every font here has them, unlike emoji). */
const ICONS: Record<TroubleKind, string> = { expired: '期', failed: '云', cancelled: '止', notFound: '寻' }

/** A reading that cannot be shown, explained kindly, with a way to ask again. */
export default function Trouble(props: { kind: TroubleKind; lang: Language; reason?: string; request?: FortuneRequestBody }) {
  const { kind, lang, reason, request } = props
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>()
  const [title, body] = TITLES[kind]
  const again = async () => {
    if (!request) {
      await Taro.reLaunch({ url: '/pages/index/index' })
      return
    }
    if (busy) return
    setBusy(true)
    try {
      await askAgain(request)
    } catch (failure) {
      setError(failure ?? new Error('failed'))
    } finally {
      setBusy(false)
    }
  }
  return (
    <View className={`trouble trouble--${kind}`} id={`trouble-${kind}`}>
      <View className='card trouble__card'>
        <Text className='trouble__icon'>{ICONS[kind]}</Text>
        <Text className='card__title'>{t(lang, title)}</Text>
        <Text className='card__hint'>{t(lang, body, { reason: reason ?? '—' })}</Text>
      </View>
      {error !== undefined ? (
        <View className='notice notice--error' role='alert'>
          <Text>{describeError(error, lang)}</Text>
        </View>
      ) : null}
      <View className='actions'>
        <View className={`btn-primary ${busy ? 'btn-primary--disabled' : ''}`} id='btn-ask-again' onClick={again}>
          <Text>{busy ? t(lang, 'submitting') : t(lang, 'askAgain')}</Text>
        </View>
        <View className='btn-ghost' onClick={() => Taro.reLaunch({ url: '/pages/index/index' })}>
          <Text>{t(lang, 'backHome')}</Text>
        </View>
      </View>
    </View>
  )
}
