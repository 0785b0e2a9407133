import { Text, View } from '@tarojs/components'
import Taro, { useRouter } from '@tarojs/taro'
import { useEffect, useRef, useState } from 'react'
import Failure from '../../components/Failure'
import Shell from '../../components/Shell'
import Trouble, { type TroubleKind } from '../../components/Trouble'
import { ApiError, UnknownState, describeError, isKnownStatus } from '../../lib/errors'
import { readingTitle } from '../../lib/format'
import { t, type MessageKey } from '../../lib/i18n'
import { longPollFor, pollUntilDone } from '../../lib/polling'
import { followReading, StreamUnsupported, type ReadingState } from '../../lib/streaming'
import type { FortuneRequestBody, FortuneView, Status } from '../../lib/types'
import { api, history, readingEvents, sessions, sleep, useLanguage } from '../../services/app'
import './index.scss'

const STEPS: { key: MessageKey; statuses: Status[] }[] = [
  { key: 'stepAccepted', statuses: ['pending'] },
  { key: 'stepQueued', statuses: ['queued'] },
  { key: 'stepRunning', statuses: ['running'] },
  { key: 'stepDone', statuses: ['succeeded'] },
]

export default function WaitingPage() {
  const lang = useLanguage()
  const router = useRouter()
  const id = router.params.id ?? history.pending()?.id ?? ''
  const firstWait = router.params.wait !== undefined ? Number(router.params.wait) : undefined
  const [view, setView] = useState<FortuneView | undefined>()
  const [notice, setNotice] = useState<string | undefined>()
  const [trouble, setTrouble] = useState<{ kind: TroubleKind; reason?: string } | undefined>()
  const [cancelling, setCancelling] = useState(false)
  /** following the reading stopped on an error (a 500, an unknown state, …): a retry and a way back */
  const [failure, setFailure] = useState<unknown>()
  const [attempt, setAttempt] = useState(0)
  /** the narrative as it is written (from the event stream) */
  const [text, setText] = useState('')
  const stopped = useRef(false)
  const lastStatus = useRef<Status | undefined>()
  const request: FortuneRequestBody | undefined = history.get(id)?.request ?? history.pending()?.request ?? view?.request

  useEffect(() => {
    stopped.current = false
    setFailure(undefined)
    if (!id) {
      setTrouble({ kind: 'notFound' })
      return undefined
    }
    const finish = (final: FortuneView) => {
      if (!isKnownStatus(final.status)) throw new UnknownState(final.status)
      history.clearPending(id)
      if (final.status === 'succeeded' && final.result) {
        history.upsert({ id, status: 'succeeded', result: final.result, summary: final.result.summary, overall: final.result.scores.overall })
        void Taro.redirectTo({ url: `/pages/result/index?id=${id}` })
      } else {
        history.upsert({ id, status: final.status })
        setTrouble({
          kind: final.status === 'cancelled' ? 'cancelled' : 'failed',
          reason: final.error?.message ?? final.message,
        })
      }
    }
    const poll = () => pollUntilDone({
      fetch: () => api.getFortune(id, longPollFor(lastStatus.current)),
      sleep,
      stopped: () => stopped.current,
      firstRetryAfter: firstWait,
      onEvent: (event) => {
        if (event.type === 'update') {
          lastStatus.current = event.view.status
          setView(event.view)
          setNotice(undefined)
        } else {
          setNotice(event.error.kind === 'network' ? t(lang, 'connectionLost') : describeError(event.error, lang))
        }
      },
    })
    // The reading as it is written: its event stream; where the platform cannot stream (or the
    // stream keeps failing) the long poll takes over. Either way the final view comes from GET,
    // so the result page is the same as without streaming.
    const streamed = (state: ReadingState) => {
      // a status this client does not know is left to the final GET (an UnknownState there)
      if (state.status && isKnownStatus(state.status)) {
        lastStatus.current = state.status
        setView((current) => ({
          ...(current ?? { id, request: request as FortuneRequestBody }),
          id,
          status: state.status as Status,
          attempts: state.attempts,
          message: state.message,
        }))
      }
      setText(state.text)
      setNotice(undefined)
    }
    followReading({ open: readingEvents(id), onState: streamed, sleep, stopped: () => stopped.current })
      .then(async (state) => (state ? (await api.getFortune(id)).view : undefined))
      .catch((error: unknown) => {
        if (error instanceof StreamUnsupported) return poll()
        throw error
      })
      .then((final) => {
      if (final) finish(final)
    }).catch((error: unknown) => {
      if (stopped.current) return
      if (error instanceof ApiError && error.status === 410) {
        history.clearPending(id)
        history.markExpired(id)
        setTrouble({ kind: 'expired' })
      } else if (error instanceof ApiError && error.status === 404) {
        history.clearPending(id)
        setTrouble({ kind: 'notFound' })
      } else {
        // kept pending: a retry (or a reload) follows the same reading
        setFailure(error ?? new Error('failed'))
      }
    })
    return () => {
      stopped.current = true
    }
    // polling follows the id (and a retry) only; the language is read when a message is made
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, attempt])

  // WeChat: a one-time subscribe message ("your reading is ready"), asked from a tap as WeChat
  // requires, for a logged-in user when the build names a template.
  const [subscribed, setSubscribed] = useState(false)
  const canNotify = process.env.TARO_ENV === 'weapp' && Boolean(SUBSCRIBE_TEMPLATE_ID) && sessions.loggedIn
  const notifyMe = async () => {
    try {
      const answer = await Taro.requestSubscribeMessage({ tmplIds: [SUBSCRIBE_TEMPLATE_ID], entityIds: [] })
      if ((answer as unknown as Record<string, string>)[SUBSCRIBE_TEMPLATE_ID] !== 'accept') return
      await api.subscribe(id)
      setSubscribed(true)
    } catch {
      // refused, or the reading finished meanwhile: the page shows it anyway
    }
  }

  const cancel = async () => {
    const { confirm } = await Taro.showModal({
      title: t(lang, 'cancelConfirm'),
      content: '',
      confirmText: t(lang, 'confirm'),
      cancelText: t(lang, 'close'),
    })
    if (!confirm) return
    setCancelling(true)
    try {
      await api.cancelFortune(id)
      stopped.current = true
      history.clearPending(id)
      history.upsert({ id, status: 'cancelled' })
      setTrouble({ kind: 'cancelled' })
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        setNotice(t(lang, 'cancelTooLate'))
      } else {
        setNotice(describeError(error, lang))
      }
    } finally {
      setCancelling(false)
    }
  }

  const title = request ? readingTitle(request.topic, request.period, lang) : t(lang, 'waitingTitle')
  if (trouble) {
    return (
      <Shell page='waiting' title={title}>
        <Trouble kind={trouble.kind} lang={lang} reason={trouble.reason} request={request} />
      </Shell>
    )
  }

  if (failure !== undefined) {
    return (
      <Shell page='waiting' title={t(lang, 'waitingTitle')} subtitle={<Text>{title}</Text>}>
        <Failure error={failure} lang={lang} onRetry={() => setAttempt(attempt + 1)} back='home' id='waiting-failure' />
      </Shell>
    )
  }

  const status: Status = view?.status ?? 'pending'
  const current = Math.max(0, STEPS.findIndex((step) => step.statuses.includes(status)))
  return (
    <Shell page='waiting' title={t(lang, 'waitingTitle')} subtitle={<Text>{title}</Text>}>
      <View className='card waiting' id='waiting' data-status={status}>
        <View className='orb'>
          <View className='orb__ring' />
          <View className='orb__ring orb__ring--slow' />
          <Text className='orb__glyph'>卦</Text>
        </View>
        <Text className='waiting__status' id='waiting-status'>{t(lang, `status_${status}` as MessageKey)}</Text>
        {view && view.attempts > 1 ? (
          <Text className='waiting__attempts' id='waiting-attempts'>{t(lang, 'attempts', { n: view.attempts })}</Text>
        ) : null}
        {view?.message && status === 'queued' && view.attempts > 0 ? (
          <Text className='waiting__message'>{t(lang, 'retryingSoon')}</Text>
        ) : null}
        <View className='steps'>
          {STEPS.map((step, index) => (
            <View key={step.key} className={`step ${index < current ? 'step--done' : ''} ${index === current ? 'step--now' : ''}`}>
              <View className='step__dot' />
              <Text className='step__label'>{t(lang, step.key)}</Text>
            </View>
          ))}
        </View>
        {text ? (
          <View className='waiting__text' id='waiting-text'>
            <Text>{text}</Text>
          </View>
        ) : (
          <Text className='card__hint waiting__intro'>{t(lang, 'waitingIntro')}</Text>
        )}
      </View>
      {notice ? (
        <View className='notice' id='waiting-notice'>
          <Text>{notice}</Text>
        </View>
      ) : null}
      <Text className='card__hint waiting__keep'>{t(lang, 'keepOpenHint')}</Text>
      <View className='actions'>
        {canNotify && !subscribed ? (
          <View className='btn-primary' id='btn-notify' onClick={notifyMe}>
            <Text>{t(lang, 'notifyAsk')}</Text>
          </View>
        ) : null}
        <View className={`btn-ghost ${cancelling ? 'btn-primary--disabled' : ''}`} id='btn-cancel' onClick={cancel}>
          <Text>{t(lang, 'cancel')}</Text>
        </View>
      </View>
    </Shell>
  )
}
