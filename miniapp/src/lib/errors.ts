import { t } from './i18n'
import type { FieldMessage, Language, Status } from './types'

/**
 * Why a call did not give what was asked: `network` (no answer: offline, timeout, refused) or
 * `http` (an answer with an error status and, from our API, `{"error": {code, message, fields?}}`).
 */
export class ApiError extends Error {
  readonly kind: 'network' | 'http'
  readonly status: number
  readonly code: string
  readonly fields: Record<string, FieldMessage>
  readonly retryAfter?: number

  constructor(options: {
    kind: 'network' | 'http'
    status?: number
    code: string
    message: string
    fields?: Record<string, FieldMessage>
    retryAfter?: number
  }) {
    super(options.message)
    this.name = 'ApiError'
    this.kind = options.kind
    this.status = options.status ?? 0
    this.code = options.code
    this.fields = options.fields ?? {}
    this.retryAfter = options.retryAfter
  }

  /** Worth retrying the same call: no answer, overload, rate limit or a backend outage. */
  get retryable(): boolean {
    return this.kind === 'network' || this.status === 429 || this.status === 502 ||
      this.status === 503 || this.status === 504
  }
}

export function isApiError(value: unknown): value is ApiError {
  return value instanceof ApiError
}

const STATUSES: readonly string[] = ['pending', 'queued', 'running', 'succeeded', 'failed', 'cancelled'] satisfies Status[]

/** Whether the API's `status` is one this client knows (a newer API may add one). */
export function isKnownStatus(status: unknown): status is Status {
  return typeof status === 'string' && STATUSES.includes(status)
}

/** A reading in a state this client does not know: shown as a dead end with a retry. */
export class UnknownState extends Error {
  readonly status: string

  constructor(status: unknown) {
    super(`unknown status ${String(status)}`)
    this.name = 'UnknownState'
    this.status = String(status)
  }
}

/**
 * A kind sentence for an error that belongs to no field, in `lang` (a page keeps the error and
 * describes it when it renders, so the sentence follows a language switch).
 */
export function describeError(error: unknown, lang: Language): string {
  if (error instanceof UnknownState) return t(lang, 'errUnknownState', { status: error.status })
  if (!(error instanceof ApiError)) return t(lang, 'errUnknown', { code: 'client' })
  if (error.kind === 'network') return t(lang, 'errNetwork')
  if (error.status === 429) return t(lang, 'errBusy', { seconds: error.retryAfter ?? 10 })
  if (error.status === 502 || error.status === 503 || error.status === 504) return t(lang, 'errUnavailable')
  if (error.status >= 500) return t(lang, 'errServer', { code: error.code })
  return t(lang, 'errUnknown', { code: error.code })
}
