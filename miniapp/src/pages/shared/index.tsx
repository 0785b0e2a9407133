import { Text, View } from '@tarojs/components'
import Taro, { useRouter } from '@tarojs/taro'
import { useEffect, useState } from 'react'
import Failure from '../../components/Failure'
import Shell from '../../components/Shell'
import { ApiError } from '../../lib/errors'
import { readingTitle } from '../../lib/format'
import { t, type MessageKey } from '../../lib/i18n'
import { ASPECTS, type SharedReading } from '../../lib/types'
import { api, useLanguage } from '../../services/app'
import './index.scss'

/**
 * A reading someone shared: the redacted public view (`GET /v1/shared/{token}`: the reading and
 * the pillars, nothing about its owner). Nothing is saved: it never enters this user's history.
 */
export default function SharedPage() {
  const lang = useLanguage()
  const token = useRouter().params.share ?? ''
  const [shared, setShared] = useState<SharedReading | undefined>()
  const [error, setError] = useState<unknown>()
  const [attempt, setAttempt] = useState(0)

  useEffect(() => {
    setError(undefined)
    api.openShare(token).then(setShared).catch((failure: unknown) => setError(failure ?? new Error('failed')))
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [token, attempt])

  const title = shared?.topic && shared.period ? readingTitle(shared.topic, shared.period, lang) : t(lang, 'sharedTitle')
  return (
    <Shell page='shared' title={title} subtitle={<Text>{t(lang, 'sharedHint')}</Text>}>
      {error !== undefined ? (
        <Failure
          error={error}
          message={error instanceof ApiError && (error.status === 404 || error.status === 410) ? t(lang, 'sharedGone') : undefined}
          lang={lang}
          onRetry={() => setAttempt(attempt + 1)}
          back='home'
        />
      ) : !shared ? (
        <Text className='card__hint'>{t(lang, 'loading')}</Text>
      ) : (
        <View className='card' id='shared-reading'>
          <Text className='card__title' id='shared-summary'>{shared.result.summary}</Text>
          <Text className='card__hint' id='shared-pillars'>{Object.values(shared.pillars).join(' ')}</Text>
          {ASPECTS.map((aspect) => (
            <View className='aspect' key={aspect}>
              <Text className='aspect__name'>{t(lang, `aspect_${aspect}` as MessageKey)} · {shared.result.scores?.[aspect] ?? ''}</Text>
              <Text className='aspect__text'>{shared.result.aspects?.[aspect] ?? ''}</Text>
            </View>
          ))}
        </View>
      )}
      <View className='actions'>
        <View className='btn-primary' id='btn-own-reading' onClick={() => Taro.reLaunch({ url: '/pages/index/index' })}>
          <Text>{t(lang, 'start')}</Text>
        </View>
      </View>
    </Shell>
  )
}
