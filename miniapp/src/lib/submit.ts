import type { FortuneApi } from './api'
import { ApiError } from './errors'
import { nextDelay, type BackoffPolicy } from './polling'
import type { KeyValueStore } from './storage'
import type { Accepted, FortuneRequestBody } from './types'

/**
 * Starting a reading exactly once. One Idempotency-Key belongs to one submission of one body:
 * a double tap shares the call in flight, a retry after a network error or a 503 (the API then
 * releases the key) or a 429 sends the same key again, and so does a tap after the page was
 * closed mid-submission (the key is stored with the body's fingerprint). The server answers a
 * repeated key with the id it already gave (Idempotent-Replayed), so none of these ever makes a
 * second request. The key is dropped once an id is known: asking again later is a new reading.
 */

export const SUBMISSION_KEY = 'cf.submission'
/** a stored key older than this is not reused (the API keeps keys 24 h; stay well inside) */
export const SUBMISSION_KEY_MAX_AGE_MS = 60 * 60 * 1000

interface StoredSubmission {
  fingerprint: string
  key: string
  createdAt: number
}

/** JSON with sorted keys: the same body always gives the same text. */
export function fingerprint(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(fingerprint).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${fingerprint(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** A new key: time and randomness, unique per device and submission. */
export function newIdempotencyKey(now: number, random: () => number = Math.random): string {
  let noise = ''
  for (let i = 0; i < 16; i += 1) noise += Math.floor(random() * 16).toString(16)
  return `cf-${now.toString(36)}-${noise}`
}

export interface SubmitterOptions {
  api: Pick<FortuneApi, 'startFortune'>
  store: KeyValueStore
  sleep: (ms: number) => Promise<void>
  now?: () => number
  random?: () => number
  /** attempts in all, the first included */
  maxAttempts?: number
  policy?: BackoffPolicy
}

export class Submitter {
  private inFlight?: { fingerprint: string; promise: Promise<Accepted> }

  constructor(private readonly options: SubmitterOptions) {}

  /** The key for this body: the stored one when the same body is still being submitted. */
  keyFor(body: FortuneRequestBody): string {
    const now = (this.options.now ?? Date.now)()
    const print = fingerprint(body)
    const stored = this.options.store.get<StoredSubmission>(SUBMISSION_KEY)
    if (stored && stored.fingerprint === print && now - stored.createdAt < SUBMISSION_KEY_MAX_AGE_MS) {
      return stored.key
    }
    const key = newIdempotencyKey(now, this.options.random)
    this.options.store.set<StoredSubmission>(SUBMISSION_KEY, { fingerprint: print, key, createdAt: now })
    return key
  }

  /** Start the reading; a second call with the same body while one is in flight shares it. */
  submit(body: FortuneRequestBody, onRetry?: (error: ApiError, delayMs: number) => void): Promise<Accepted> {
    const print = fingerprint(body)
    if (this.inFlight && this.inFlight.fingerprint === print) return this.inFlight.promise
    const promise = this.run(body, onRetry).finally(() => {
      if (this.inFlight?.promise === promise) this.inFlight = undefined
    })
    this.inFlight = { fingerprint: print, promise }
    return promise
  }

  /** Forget the stored key (after the id is known, or to ask again on purpose). */
  forget(): void {
    this.options.store.remove(SUBMISSION_KEY)
  }

  private async run(
    body: FortuneRequestBody,
    onRetry?: (error: ApiError, delayMs: number) => void,
  ): Promise<Accepted> {
    const maxAttempts = this.options.maxAttempts ?? 4
    let key = this.keyFor(body)
    let renewedKey = false
    for (let attempt = 0; ; attempt += 1) {
      try {
        const accepted = await this.options.api.startFortune(body, key)
        this.forget()
        return accepted
      } catch (error) {
        if (!(error instanceof ApiError)) throw error
        if (error.code === 'idempotency_key_reused' && !renewedKey) {
          // the stored key met a different body (edited elsewhere): a fresh key, once
          this.forget()
          key = this.keyFor(body)
          renewedKey = true
          attempt -= 1
          continue
        }
        if (!error.retryable || attempt + 1 >= maxAttempts) throw error
        const delay = nextDelay(attempt, error.retryAfter, this.options.policy, this.options.random)
        onRetry?.(error, delay)
        await this.options.sleep(delay)
      }
    }
  }
}
