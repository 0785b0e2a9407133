import { Text, View } from '@tarojs/components'
import Taro, { useDidShow } from '@tarojs/taro'
import { useState } from 'react'
import Failure from '../../components/Failure'
import Shell from '../../components/Shell'
import { describeError } from '../../lib/errors'
import { formatDate, isoDay, readingTitle } from '../../lib/format'
import { RETENTION_DAYS, type HistoryEntry } from '../../lib/history'
import { t } from '../../lib/i18n'
import type { HistoryItem, Period, Status, Topic } from '../../lib/types'
import { api, history, sessions, useLanguage } from '../../services/app'
import './index.scss'

/** One row: from the server (a logged-in user's readings on every device) or this device. */
interface Row {
  id: string
  status: Status | 'expired'
  name?: string
  topic: Topic
  period: Period
  date: string
  summary?: string
  overall?: number
}

function fromDevice(entry: HistoryEntry): Row {
  return {
    id: entry.id,
    status: entry.status,
    name: entry.request.profile.name ?? undefined,
    topic: entry.request.topic,
    period: entry.request.period,
    date: entry.request.date ?? isoDay(entry.createdAt),
    summary: entry.summary,
    overall: entry.overall,
  }
}

function fromServer(item: HistoryItem, local: HistoryEntry | undefined): Row {
  return {
    id: item.id,
    status: item.status,
    name: local?.request.profile.name ?? undefined,
    topic: item.topic ?? 'overall',
    period: item.period ?? 'day',
    date: item.date ?? item.createdAt.slice(0, 10),
    summary: item.summary,
    overall: item.overall,
  }
}

export default function HistoryPage() {
  const lang = useLanguage()
  const [rows, setRows] = useState<Row[]>(() => history.list().map(fromDevice))
  const [fromServerToo, setFromServerToo] = useState(false)
  /** the server's list could not be read: this device's is shown, with a retry */
  const [failure, setFailure] = useState<unknown>()

  // Logged in: the server's list (every device of this user); offline or not logged in: this
  // device's own list, which stays the fallback.
  const load = () => {
    const local = history.list()
    setRows(local.map(fromDevice))
    setFailure(undefined)
    if (!sessions.loggedIn) return
    api.listFortunes().then((page) => {
      const byId = new Map(local.map((entry) => [entry.id, entry]))
      setRows(page.items.map((item) => fromServer(item, byId.get(item.id))))
      setFromServerToo(true)
    }).catch((error: unknown) => {
      setFromServerToo(false)
      setFailure(error ?? new Error('failed'))
    })
  }
  useDidShow(load)

  const open = (row: Row) => {
    if (row.status === 'succeeded' || row.status === 'expired' || row.status === 'failed' || row.status === 'cancelled') {
      void Taro.navigateTo({ url: `/pages/result/index?id=${row.id}` })
    } else {
      void Taro.navigateTo({ url: `/pages/waiting/index?id=${row.id}` })
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
    load()
  }

  return (
    <Shell page='history' title={t(lang, 'historyTitle')} subtitle={<Text>{fromServerToo ? t(lang, 'historyServer') : t(lang, 'historyKeep', { days: RETENTION_DAYS })}</Text>}>
      {failure !== undefined ? (
        <Failure
          error={failure}
          message={`${t(lang, 'historyServerFailed')}: ${describeError(failure, lang)}`}
          lang={lang}
          onRetry={load}
          back='home'
          id='history-failure'
        />
      ) : null}
      {rows.length === 0 ? (
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
          {rows.map((row) => {
            const expired = row.status === 'expired'
            const badge = expired
              ? t(lang, 'historyExpired')
              : row.status === 'succeeded'
                ? String(row.overall ?? '')
                : row.status === 'failed' || row.status === 'cancelled'
                  ? t(lang, 'historyFailed')
                  : t(lang, 'historyPending')
            return (
              <View key={row.id} className={`card history__item ${expired ? 'history__item--expired' : ''}`} onClick={() => open(row)}>
                <View className='history__main'>
                  <Text className='history__title'>
                    {row.name ? `${row.name} · ` : ''}
                    {readingTitle(row.topic, row.period, lang)}
                  </Text>
                  <Text className='history__date'>{formatDate(row.date, lang)}</Text>
                  {row.summary && !expired ? <Text className='history__summary'>{row.summary}</Text> : null}
                </View>
                <Text className={`history__badge ${row.status === 'succeeded' ? 'history__badge--score' : ''}`}>{badge}</Text>
              </View>
            )
          })}
          {!fromServerToo ? (
            <View className='actions'>
              <View className='btn-ghost' id='btn-clear-history' onClick={clear}>
                <Text>{t(lang, 'historyClear')}</Text>
              </View>
            </View>
          ) : null}
        </View>
      )}
      <View className='actions'>
        <View className='btn-ghost' id='btn-privacy' onClick={() => Taro.navigateTo({ url: '/pages/privacy/index' })}>
          <Text>{t(lang, 'privacyLink')} · {t(lang, 'deleteMyData')}</Text>
        </View>
      </View>
    </Shell>
  )
}
