import { describe, expect, it } from 'vitest'
import { HISTORY_KEY, HISTORY_MAX, History, RETENTION_MS, isExpired, prune, ulidTime, type HistoryEntry } from '../src/lib/history'
import { MemoryStore } from '../src/lib/storage'
import type { FortuneRequestBody } from '../src/lib/types'
import { ulidAt } from './fakes'

const REQUEST: FortuneRequestBody = {
  profile: { gender: 'female', calendar: 'solar', birthDate: '1990-05-17', timezone: 'Asia/Shanghai' },
  topic: 'overall',
  period: 'day',
  language: 'zh-CN',
}
const DAY = 24 * 3600 * 1000
const T0 = Date.parse('2026-11-25T08:00:00Z')

describe('request ids', () => {
  it('carry their creation time', () => {
    expect(ulidTime(ulidAt(T0))).toBe(T0)
    // the same id decoded by the backend (fortune_core.ids.request_id_time)
    expect(ulidTime('01ARZ3NDEKTSV4RRFFQ69G5FAV')).toBe(1469922850259)
    expect(ulidTime('not-a-ulid')).toBeUndefined()
  })
})

describe('expiry', () => {
  it('is the retention after creation', () => {
    expect(isExpired({ createdAt: T0 }, T0 + RETENTION_MS - 1)).toBe(false)
    expect(isExpired({ createdAt: T0 }, T0 + RETENTION_MS)).toBe(true)
  })

  it('drops expired entries, newest first, at most HISTORY_MAX', () => {
    const entries: HistoryEntry[] = Array.from({ length: HISTORY_MAX + 5 }, (_, i) => ({
      id: ulidAt(T0 - i * 3600_000),
      createdAt: T0 - i * 3600_000,
      request: REQUEST,
      status: 'succeeded',
    }))
    entries.push({ id: ulidAt(T0 - 8 * DAY), createdAt: T0 - 8 * DAY, request: REQUEST, status: 'succeeded' })
    const kept = prune([...entries].reverse(), T0)
    expect(kept).toHaveLength(HISTORY_MAX)
    expect(kept[0].createdAt).toBe(T0)
    expect(kept.every((e) => e.createdAt > T0 - 8 * DAY)).toBe(true)
  })
})

describe('History', () => {
  it('keeps readings, updates them in place and forgets them after the retention', () => {
    const store = new MemoryStore()
    let now = T0
    const history = new History(store, () => now)
    const old = ulidAt(T0 - 2 * DAY)
    const recent = ulidAt(T0 - DAY)
    history.upsert({ id: old, request: REQUEST, status: 'queued' })
    history.upsert({ id: recent, request: REQUEST, status: 'queued' })
    history.upsert({ id: old, status: 'succeeded', summary: '顺遂', overall: 78 })
    expect(history.list().map((e) => e.id)).toEqual([recent, old])
    expect(history.get(old)).toMatchObject({ status: 'succeeded', summary: '顺遂', overall: 78, createdAt: T0 - 2 * DAY, request: REQUEST })

    now = T0 + 5 * DAY + 1 // old is 7 days + 1 ms old
    expect(history.list().map((e) => e.id)).toEqual([recent])
    expect(store.get<HistoryEntry[]>(HISTORY_KEY)).toHaveLength(1) // removed from storage too
  })

  it('marks a reading the API called expired (410) and drops its result', () => {
    const history = new History(new MemoryStore(), () => T0)
    const id = ulidAt(T0 - DAY)
    history.upsert({ id, request: REQUEST, status: 'succeeded', summary: 's', result: { summary: 's' } as HistoryEntry['result'] })
    history.markExpired(id)
    expect(history.get(id)?.status).toBe('expired')
    expect(history.get(id)?.result).toBeUndefined()
    history.markExpired(ulidAt(T0)) // unknown ids are ignored
    expect(history.list()).toHaveLength(1)
  })

  it('remembers the pending reading until it is done or past retention', () => {
    let now = T0
    const history = new History(new MemoryStore(), () => now)
    const id = ulidAt(T0)
    history.setPending({ id, createdAt: T0, request: REQUEST })
    expect(history.pending()?.id).toBe(id)
    history.clearPending('another')
    expect(history.pending()?.id).toBe(id)
    history.clearPending(id)
    expect(history.pending()).toBeUndefined()
    history.setPending({ id, createdAt: T0, request: REQUEST })
    now = T0 + RETENTION_MS
    expect(history.pending()).toBeUndefined()
  })
})
