import { Text, View } from '@tarojs/components'
import Taro from '@tarojs/taro'
import { describeError } from '../lib/errors'
import { t } from '../lib/i18n'
import type { Language } from '../lib/types'

/** Where the way back of a failure leads: the page before, the start page, or none (the start page itself). */
export type FailureBack = 'page' | 'home' | 'none'

export function goBack(): void {
  void Taro.navigateBack().catch(() => Taro.reLaunch({ url: '/pages/index/index' }))
}

/**
 * A call that failed (no answer, a 500, an unknown state…), never a dead end: the reason in the
 * chosen language (described at each render, so it follows a language switch), a retry, and a
 * way back.
 */
export default function Failure(props: {
  error: unknown
  lang: Language
  /** the reason, when not the error's own (made at render, in `lang`) */
  message?: string
  onRetry: () => void
  busy?: boolean
  back?: FailureBack
  /** the notice's id (tests, and pages whose error notice already had one) */
  id?: string
}) {
  const { error, lang, message, onRetry, busy = false, back = 'page', id = 'failure' } = props
  return (
    <View className='failure' id={`${id}-box`}>
      <View className='notice notice--error' id={id} role='alert'>
        <Text>{message ?? describeError(error, lang)}</Text>
      </View>
      <View className='actions'>
        <View
          className={`btn-primary ${busy ? 'btn-primary--disabled' : ''}`}
          id='btn-retry'
          role='button'
          onClick={() => { if (!busy) onRetry() }}
        >
          <Text>{busy ? t(lang, 'loading') : t(lang, 'retry')}</Text>
        </View>
        {back === 'none' ? null : (
          <View
            className='btn-ghost'
            id='btn-failure-back'
            role='button'
            onClick={() => (back === 'home' ? void Taro.reLaunch({ url: '/pages/index/index' }) : goBack())}
          >
            <Text>{back === 'home' ? t(lang, 'backHome') : t(lang, 'goBack')}</Text>
          </View>
        )}
      </View>
    </View>
  )
}
