import type { KeyValueStore } from './storage'
import type { Element, FortuneRequestBody, FortuneResult, Status } from './types'

/**
 * The readings of this device, newest first, in local storage. The API keeps a request for its
 * retention (7 days by default) and then answers 410; the list drops entries past it, and an
 * entry the API already called expired (410) is kept, marked, until then.
 */

export const HISTORY_KEY = 'cf.history'
export const PENDING_KEY = 'cf.pending'
export const HISTORY_MAX = 30
export const RETENTION_DAYS = 7
export const RETENTION_MS = RETENTION_DAYS * 24 * 3600 * 1000

export interface HistoryEntry {
  id: string
  /** ms since the epoch, from the id (a ULID carries its creation time) */
  createdAt: number
  request: FortuneRequestBody
  status: Status | 'expired'
  summary?: string
  overall?: number
  /** the whole result once known, so the page opens at once (the API is asked again anyway) */
  result?: FortuneResult
  /** the four pillars of the chart the reading was asked from (for the poster) */
  pillars?: HistoryPillar[]
}

export interface HistoryPillar {
  key: 'year' | 'month' | 'day' | 'hour'
  stem: string
  branch: string
  stemElement: Element
  branchElement: Element
}

/** The reading being waited for, so closing and reopening the page finds it again. */
export interface PendingReading {
  id: string
  createdAt: number
  request: FortuneRequestBody
  retryAfter?: number
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** The creation time (ms) of a ULID request id, or undefined for another shape of id. */
export function ulidTime(id: string): number | undefined {
  if (!/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(id)) return undefined
  let value = 0
  for (const ch of id.slice(0, 10)) value = value * 32 + CROCKFORD.indexOf(ch)
  return value
}

export function isExpired(entry: { createdAt: number }, now: number, retentionMs = RETENTION_MS): boolean {
  return now - entry.createdAt >= retentionMs
}

/** Entries still within retention, newest first, at most HISTORY_MAX. */
export function prune(entries: HistoryEntry[], now: number, retentionMs = RETENTION_MS): HistoryEntry[] {
  return entries
    .filter((entry) => !isExpired(entry, now, retentionMs))
    .sort((a, b) => b.createdAt - a.createdAt)
    .slice(0, HISTORY_MAX)
}

export class History {
  constructor(
    private readonly store: KeyValueStore,
    private readonly now: () => number = Date.now,
    private readonly retentionMs = RETENTION_MS,
  ) {}

  /** The entries still within retention (expired ones are dropped from storage too). */
  list(): HistoryEntry[] {
    const stored = this.store.get<HistoryEntry[]>(HISTORY_KEY) ?? []
    const kept = prune(stored, this.now(), this.retentionMs)
    if (kept.length !== stored.length) this.store.set(HISTORY_KEY, kept)
    return kept
  }

  get(id: string): HistoryEntry | undefined {
    return this.list().find((entry) => entry.id === id)
  }

  /** Add or update the entry with this id (fields given replace the stored ones). */
  upsert(entry: Partial<HistoryEntry> & { id: string }): HistoryEntry {
    const entries = this.list()
    const index = entries.findIndex((item) => item.id === entry.id)
    const merged = {
      ...(index >= 0 ? entries[index] : { createdAt: ulidTime(entry.id) ?? this.now(), status: 'queued' }),
      ...entry,
    } as HistoryEntry
    if (index >= 0) entries.splice(index, 1)
    this.store.set(HISTORY_KEY, prune([merged, ...entries], this.now(), this.retentionMs))
    return merged
  }

  markExpired(id: string): void {
    if (this.get(id)) this.upsert({ id, status: 'expired', result: undefined })
  }

  clear(): void {
    this.store.remove(HISTORY_KEY)
  }

  pending(): PendingReading | undefined {
    const pending = this.store.get<PendingReading>(PENDING_KEY)
    if (!pending) return undefined
    if (isExpired(pending, this.now(), this.retentionMs)) {
      this.store.remove(PENDING_KEY)
      return undefined
    }
    return pending
  }

  setPending(pending: PendingReading): void {
    this.store.set(PENDING_KEY, pending)
  }

  /** Forget the pending reading, only if it is still this id (another may have started since). */
  clearPending(id: string): void {
    if (this.store.get<PendingReading>(PENDING_KEY)?.id === id) this.store.remove(PENDING_KEY)
  }
}
