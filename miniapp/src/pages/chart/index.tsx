import { Text, View } from '@tarojs/components'
import Taro from '@tarojs/taro'
import { useState } from 'react'
import { AlmanacCard, ChartExtras, ElementBars, LuckCard, PillarTable } from '../../components/Chart'
import Failure from '../../components/Failure'
import Shell from '../../components/Shell'
import { ApiError } from '../../lib/errors'
import { buildRequest } from '../../lib/form'
import { elementName, formatDate, periodName, topicName } from '../../lib/format'
import type { HistoryPillar } from '../../lib/history'
import { t, type MessageKey } from '../../lib/i18n'
import type { DerivedProfile } from '../../lib/types'
import { history, loadChart, submitter, useLanguage } from '../../services/app'
import './index.scss'

/** The pillars kept with the reading, for its poster. */
function pillarsOf(profile: DerivedProfile): HistoryPillar[] {
  return (['year', 'month', 'day', 'hour'] as const).flatMap((key) => {
    const pillar = profile.pillars[key]
    return pillar
      ? [{ key, stem: pillar.stem, branch: pillar.branch, stemElement: pillar.stemElement, branchElement: pillar.branchElement }]
      : []
  })
}

export default function ChartPage() {
  const lang = useLanguage()
  const [state] = useState(loadChart)
  const [busy, setBusy] = useState(false)
  /** why the last ask failed (described at render, in the chosen language) */
  const [error, setError] = useState<unknown>()
  const [retrying, setRetrying] = useState(false)

  if (!state) {
    return (
      <Shell page='chart' title={t(lang, 'chartTitle')}>
        <View className='actions'>
          <View className='btn-primary' onClick={() => Taro.reLaunch({ url: '/pages/index/index' })}>
            <Text>{t(lang, 'start')}</Text>
          </View>
        </View>
      </Shell>
    )
  }

  const { form, chart } = state
  const { profile, almanac, luck } = chart

  const ask = async () => {
    if (busy) return
    setBusy(true)
    setError(undefined)
    const request = buildRequest(form)
    try {
      // the submitter retries by itself after a network error, a 503 or a 429 (same key)
      const accepted = await submitter.submit(request, () => setRetrying(true))
      const createdAt = Date.now()
      history.setPending({ id: accepted.id, createdAt, request, retryAfter: accepted.retryAfter })
      history.upsert({ id: accepted.id, request, status: accepted.status, pillars: pillarsOf(profile) })
      const wait = accepted.retryAfter !== undefined ? `&wait=${accepted.retryAfter}` : ''
      await Taro.redirectTo({ url: `/pages/waiting/index?id=${accepted.id}${wait}` })
    } catch (failure) {
      setError(failure ?? new Error('failed'))
    } finally {
      setBusy(false)
      setRetrying(false)
    }
  }

  const strength = t(lang, `strength_${profile.strength.level}` as MessageKey)
  const who = profile.name ? `${profile.name} · ` : ''
  const subtitle = `${who}${formatDate(profile.solarDate, lang)}${profile.pillars.hour ? '' : ` · ${t(lang, 'hourUnknown')}`}`

  return (
    <Shell page='chart' title={t(lang, 'chartTitle')} subtitle={<Text>{subtitle}</Text>}>
      <Text className='card__hint intro'>{t(lang, 'chartIntro')}</Text>
      <View className='columns'>
        <View className='column'>
          <View className='card'>
            <PillarTable profile={profile} lang={lang} />
            <View className='facts'>
              <Text className='facts__line' id='day-master'>
                {t(lang, 'dayMaster', { stem: profile.dayMaster, element: elementName(profile.dayMasterElement, lang), strength })}
              </Text>
              <Text className='facts__line'>
                {t(lang, 'favourable', { elements: profile.favourableElements.map((e) => elementName(e, lang)).join(lang === 'zh-CN' ? '、' : ', ') })}
              </Text>
            </View>
          </View>
          <LuckCard profile={profile} luck={luck} lang={lang} />
          <View className='card'>
            <Text className='card__title'>{t(lang, 'fiveElements')}</Text>
            <ElementBars profile={profile} lang={lang} />
            <View className='facts facts--grid'>
              <View className='fact'>
                <Text className='fact__label'>{t(lang, 'zodiac')}</Text>
                <Text className='fact__value' id='zodiac'>{lang === 'zh-CN' ? profile.zodiac.zh : profile.zodiac.en}</Text>
              </View>
              <View className='fact'>
                <Text className='fact__label'>{t(lang, 'constellation')}</Text>
                <Text className='fact__value' id='constellation'>{lang === 'zh-CN' ? profile.constellation.zh : profile.constellation.en}</Text>
              </View>
              <View className='fact'>
                <Text className='fact__label'>{t(lang, 'lunarBirthday')}</Text>
                <Text className='fact__value'>{lang === 'zh-CN' ? profile.lunar.text : `${profile.lunar.leapMonth ? 'leap ' : ''}${profile.lunar.month}/${profile.lunar.day}, ${profile.lunar.year}`}</Text>
              </View>
            </View>
          </View>
        </View>
        <View className='column'>
          <ChartExtras profile={profile} lang={lang} />
          <AlmanacCard almanac={almanac} lang={lang} />
          {error instanceof ApiError && error.status === 422 && Object.keys(error.fields).length ? (
            <View className='notice notice--error' id='error-ask' role='alert'>
              <Text>
                {Object.entries(error.fields).map(([path, message]) => `${path}: ${lang === 'zh-CN' ? message.zh : message.en}`).join('\n')}
              </Text>
            </View>
          ) : error !== undefined ? (
            <Failure error={error} lang={lang} onRetry={() => void ask()} busy={busy} back='none' id='error-ask' />
          ) : null}
          <View className='actions'>
            <View id='btn-ask' className={`btn-primary ${busy ? 'btn-primary--disabled' : ''}`} onClick={ask} role='button'>
              <Text>
                {busy
                  ? t(lang, retrying ? 'connectionLost' : 'submitting')
                  : t(lang, 'askReading', lang === 'zh-CN'
                      ? { topic: topicName(form.topic, lang), period: periodName(form.period, lang) }
                      : { topic: topicName(form.topic, lang).toLowerCase(), period: periodName(form.period, lang).toLowerCase() })}
              </Text>
            </View>
            <View className='btn-ghost' id='btn-edit' onClick={() => Taro.navigateBack().catch(() => Taro.reLaunch({ url: '/pages/index/index' }))}>
              <Text>{t(lang, 'editInfo')}</Text>
            </View>
          </View>
          <Text className='disclaimer'>{t(lang, 'disclaimer')}</Text>
        </View>
      </View>
    </Shell>
  )
}

