import { ApiError, UnknownState, isKnownStatus } from './errors'
import { TERMINAL, type FortuneView, type Polled, type Status } from './types'

/**
 * How often to ask for a request's status. The server's Retry-After is a floor (it knows its own
 * load); on top of it the client backs off geometrically, so a long LLM call is not polled every
 * two seconds for minutes, up to `maxMs`. A longer Retry-After (a 429 or 503) always wins.
 */
export interface BackoffPolicy {
  initialMs: number
  factor: number
  maxMs: number
  /** ± this fraction of random spread, so many clients do not poll in step */
  jitter: number
}

export const DEFAULT_POLICY: BackoffPolicy = { initialMs: 1500, factor: 1.5, maxMs: 15_000, jitter: 0.1 }

/**
 * The wait before poll number `attempt` (0 = the first after submitting), in ms.
 * `random` returns [0, 1); 0.5 means no jitter.
 */
export function nextDelay(
  attempt: number,
  retryAfterSeconds: number | undefined,
  policy: BackoffPolicy = DEFAULT_POLICY,
  random: () => number = Math.random,
): number {
  const backoff = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, attempt))
  const spread = 1 + policy.jitter * (2 * random() - 1)
  const jittered = Math.round(Math.min(policy.maxMs, backoff * spread))
  const floor = retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : 0
  return Math.max(jittered, floor)
}

/**
 * Once a reading is being made (running), each poll is a long poll of up to this many seconds
 * (`Prefer: wait=N`): the server answers the moment it is ready, not at the next backed-off poll.
 * Well under the transport's 20 s timeout.
 */
export const LONG_POLL_SECONDS = 10

/**
 * The long poll to ask for after seeing `status`: none before the request runs (plain polls show
 * each step: accepted, in line), LONG_POLL_SECONDS while it runs (the next change is its end).
 */
export function longPollFor(status: Status | undefined): number | undefined {
  return status === 'running' ? LONG_POLL_SECONDS : undefined
}

export type PollEvent =
  | { type: 'update'; view: FortuneView }
  | { type: 'retrying'; error: ApiError; delayMs: number }

export interface PollOptions {
  /** one GET /v1/fortunes/{id} (a long poll when the server holds it: `waited`) */
  fetch: () => Promise<Polled>
  sleep: (ms: number) => Promise<void>
  onEvent: (event: PollEvent) => void
  /** polling stops (resolving undefined) as soon as this returns true */
  stopped: () => boolean
  /**
   * Seconds to wait before the first poll (the Retry-After of the 202 that accepted the request);
   * undefined polls at once (a page opened again on a request in flight).
   */
  firstRetryAfter?: number
  policy?: BackoffPolicy
  random?: () => number
}

/**
 * Poll until the request is finished. Resolves with the final view (succeeded, failed or
 * cancelled), or undefined when stopped. Errors worth retrying (no network, 429, 5xx) wait and
 * try again, honouring Retry-After; others (404, 410, 500) reject with the ApiError, and a status
 * this client does not know with an UnknownState.
 */
export async function pollUntilDone(options: PollOptions): Promise<FortuneView | undefined> {
  const policy = options.policy ?? DEFAULT_POLICY
  const random = options.random ?? Math.random
  let attempt = 0
  let delay = 0
  if (options.firstRetryAfter !== undefined) {
    delay = nextDelay(attempt++, options.firstRetryAfter, policy, random)
  }
  for (;;) {
    if (delay > 0) await options.sleep(delay)
    if (options.stopped()) return undefined
    try {
      const { view, retryAfter, waited } = await options.fetch()
      if (options.stopped()) return undefined
      // a state this client does not know: nothing to wait for, the page offers a retry
      if (!isKnownStatus(view.status)) throw new UnknownState(view.status)
      options.onEvent({ type: 'update', view })
      if (TERMINAL.includes(view.status)) return view
      // A long poll already waited on the server: ask again at once (the next answer comes the
      // moment the request finishes). Otherwise back off, honouring Retry-After.
      delay = waited ? 0 : nextDelay(attempt++, retryAfter, policy, random)
    } catch (error) {
      if (!(error instanceof ApiError) || !error.retryable) throw error
      if (options.stopped()) return undefined
      delay = nextDelay(attempt++, error.retryAfter, policy, random)
      options.onEvent({ type: 'retrying', error, delayMs: delay })
    }
  }
}
