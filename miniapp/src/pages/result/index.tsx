import { Text, View } from '@tarojs/components'
import Taro, { useRouter, useShareAppMessage } from '@tarojs/taro'
import { useEffect, useState } from 'react'
import Failure from '../../components/Failure'
import Shell from '../../components/Shell'
import Trouble, { type TroubleKind } from '../../components/Trouble'
import { ApiError, UnknownState, describeError, isKnownStatus } from '../../lib/errors'
import { formatDate, periodName, providerName, readingTitle, scoreBand, topicName } from '../../lib/format'
import { t, type MessageKey } from '../../lib/i18n'
import { ASPECTS, type FortuneRequestBody, type FortuneResult } from '../../lib/types'
import { api, history, useLanguage } from '../../services/app'
import './index.scss'

const ASPECT_COLOR: Record<string, string> = {
  career: '#5ed6ff',
  love: '#ff8fb1',
  wealth: '#f5c86b',
  health: '#46c289',
  study: '#a78bfa',
}

export default function ResultPage() {
  const lang = useLanguage()
  const id = useRouter().params.id ?? ''
  const stored = history.get(id)
  const [result, setResult] = useState<FortuneResult | undefined>(stored?.result)
  const [request, setRequest] = useState<FortuneRequestBody | undefined>(stored?.request)
  const [date, setDate] = useState<string | undefined>(stored?.request.date)
  const [trouble, setTrouble] = useState<{ kind: TroubleKind; reason?: string } | undefined>(
    stored?.status === 'expired' ? { kind: 'expired' } : undefined,
  )
  const [notice, setNotice] = useState<string | undefined>()
  /** the reading could not be read (no answer, a 500, an unknown state): a retry and a way back */
  const [failure, setFailure] = useState<unknown>()
  const [attempt, setAttempt] = useState(0)

  useEffect(() => {
    if (!id) {
      setTrouble({ kind: 'notFound' })
      return
    }
    setFailure(undefined)
    api.getFortune(id).then(({ view }) => {
      if (!isKnownStatus(view.status)) {
        if (!stored?.result) setFailure(new UnknownState(view.status))
        return
      }
      setRequest((current) => current ?? view.request)
      setDate(view.request.date)
      if (view.status === 'succeeded' && view.result) {
        setResult(view.result)
        history.upsert({ id, status: 'succeeded', result: view.result, summary: view.result.summary, overall: view.result.scores.overall, request: stored?.request ?? view.request })
      } else if (view.status === 'failed' || view.status === 'cancelled') {
        setTrouble({ kind: view.status === 'failed' ? 'failed' : 'cancelled', reason: view.error?.message })
      } else {
        void Taro.redirectTo({ url: `/pages/waiting/index?id=${id}` })
      }
    }).catch((error: unknown) => {
      if (error instanceof ApiError && error.status === 410) {
        history.markExpired(id)
        setResult(undefined)
        setTrouble({ kind: 'expired' })
      } else if (error instanceof ApiError && error.status === 404) {
        setTrouble({ kind: 'notFound' })
      } else if (!stored?.result) {
        setFailure(error ?? new Error('failed'))
      }
    })
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, attempt])

  // A share carries a share token opening the redacted public view (pages/shared), never the
  // request id: the recipient sees no name, birth data or place, and nothing enters their history.
  const shareTitle = result && request
    ? t(lang, 'shareTitle', { topic: topicName(request.topic, lang), period: periodName(request.period, lang), summary: result.summary }).slice(0, 60)
    : t(lang, 'appName')
  useShareAppMessage(() => ({
    title: shareTitle,
    path: '/pages/index/index',
    promise: api.share(id).then((token) => ({ title: shareTitle, path: `/pages/shared/index?share=${token}` })),
  }))

  const copyShareLink = async () => {
    try {
      const token = await api.share(id)
      const base = process.env.TARO_ENV === 'h5' && typeof window !== 'undefined' ? window.location.href.split('#')[0] : ''
      await Taro.setClipboardData({ data: `${base}#/pages/shared/index?share=${token}` })
      setNotice(t(lang, 'shareCopied'))
    } catch (error) {
      setNotice(describeError(error, lang))
    }
  }

  const title = request ? readingTitle(request.topic, request.period, lang) : t(lang, 'appName')
  if (trouble) {
    return (
      <Shell page='result' title={title}>
        <Trouble kind={trouble.kind} lang={lang} reason={trouble.reason} request={request} />
      </Shell>
    )
  }
  if (!result || !request) {
    return (
      <Shell page='result' title={title}>
        {failure !== undefined ? (
          <Failure error={failure} lang={lang} onRetry={() => setAttempt(attempt + 1)} />
        ) : <Text className='card__hint'>{t(lang, 'loading')}</Text>}
      </Shell>
    )
  }

  const who = request.profile.name ? `${request.profile.name} · ` : ''
  const overall = result.scores.overall
  return (
    <Shell page='result' title={title} subtitle={<Text>{who}{date ? formatDate(date, lang) : ''}</Text>}>
      <View className='columns'>
        <View className='column'>
          <View className='card hero' id='result-hero'>
            <View className='hero__score' style={{ borderColor: overall >= 70 ? '#f5c86b' : overall >= 50 ? '#5ed6ff' : '#a78bfa' }}>
              <Text className='hero__number' id='score-overall'>{overall}</Text>
              <Text className='hero__label'>{t(lang, 'overallScore')}</Text>
            </View>
            <View className='hero__text'>
              <Text className='hero__band'>{scoreBand(overall, lang)}</Text>
              <Text className='hero__summary' id='result-summary'>{result.summary}</Text>
            </View>
          </View>

          <View className='card' id='scores'>
            <Text className='card__title'>{t(lang, 'scoresTitle')}</Text>
            {ASPECTS.map((aspect) => (
              <View className='score-row' key={aspect} id={`score-${aspect}`}>
                <Text className='score-row__name'>{t(lang, `aspect_${aspect}` as MessageKey)}</Text>
                <View className='score-row__track'>
                  <View className='score-row__bar' style={{ width: `${result.scores[aspect]}%`, background: ASPECT_COLOR[aspect] }} />
                </View>
                <Text className='score-row__value'>{result.scores[aspect]}</Text>
              </View>
            ))}
          </View>

          <View className='card'>
            <Text className='card__title'>{t(lang, 'luckyTitle')}</Text>
            <View className='lucky' id='lucky'>
              <View className='lucky__item'>
                <Text className='lucky__label'>{t(lang, 'luckyColor')}</Text>
                <Text className='lucky__value'>{result.lucky.color}</Text>
              </View>
              <View className='lucky__item'>
                <Text className='lucky__label'>{t(lang, 'luckyNumber')}</Text>
                <Text className='lucky__value'>{result.lucky.number}</Text>
              </View>
              <View className='lucky__item'>
                <Text className='lucky__label'>{t(lang, 'luckyDirection')}</Text>
                <Text className='lucky__value'>{result.lucky.direction}</Text>
              </View>
            </View>
          </View>

          <View className='card advice' id='advice'>
            <View className='advice__col'>
              <Text className='almanac__mark almanac__mark--good'>{t(lang, 'adviceDo')}</Text>
              {result.advice.do.map((item) => <Text className='advice__item' key={item}>{item}</Text>)}
            </View>
            <View className='advice__col'>
              <Text className='almanac__mark almanac__mark--bad'>{t(lang, 'adviceAvoid')}</Text>
              {result.advice.avoid.map((item) => <Text className='advice__item' key={item}>{item}</Text>)}
            </View>
          </View>
        </View>

        <View className='column'>
          <View className='card' id='aspects'>
            {ASPECTS.map((aspect) => (
              <View className='aspect' key={aspect}>
                <Text className='aspect__name' style={{ color: ASPECT_COLOR[aspect] }}>
                  {t(lang, `aspect_${aspect}` as MessageKey)} · {result.scores[aspect]}
                </Text>
                <Text className='aspect__text'>{result.aspects[aspect]}</Text>
              </View>
            ))}
          </View>
          <View className='card' id='narrative'>
            <Text className='card__title'>{t(lang, 'narrative')}</Text>
            {result.text.split(/\n+/).map((paragraph, i) => <Text className='narrative__p' key={i}>{paragraph}</Text>)}
          </View>
          <View className='actions'>
            <View className='btn-primary' id='btn-poster' onClick={() => Taro.navigateTo({ url: `/pages/poster/index?id=${id}` })}>
              <Text>{t(lang, 'makePoster')}</Text>
            </View>
            <View className='btn-ghost' id='btn-share-link' onClick={copyShareLink}>
              <Text>{t(lang, 'shareLink')}</Text>
            </View>
            <View className='btn-ghost' id='btn-new' onClick={() => Taro.reLaunch({ url: '/pages/index/index' })}>
              <Text>{t(lang, 'newReading')}</Text>
            </View>
            <View className='btn-ghost' onClick={() => Taro.navigateTo({ url: '/pages/history/index' })}>
              <Text>{t(lang, 'history')}</Text>
            </View>
          </View>
          {notice ? <View className='notice' role='status' id='result-notice'><Text>{notice}</Text></View> : null}
          <Text className='disclaimer'>{t(lang, 'provider', { provider: providerName(result.provider, result.model, lang) })}</Text>
          <Text className='disclaimer'>{t(lang, 'disclaimer')}</Text>
        </View>
      </View>
    </Shell>
  )
}
