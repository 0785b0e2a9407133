import { describe, expect, it } from 'vitest'
import { ApiError, UnknownState, describeError } from '../src/lib/errors'
import { DEFAULT_POLICY, LONG_POLL_SECONDS, longPollFor, nextDelay, pollUntilDone, type PollEvent } from '../src/lib/polling'
import type { FortuneView, Status } from '../src/lib/types'
import { recordingSleep } from './fakes'

const noJitter = () => 0.5

function view(status: Status, attempts = 0): FortuneView {
  return {
    id: '01KAXYZ',
    status,
    attempts,
    request: { profile: { gender: 'unspecified', calendar: 'solar', birthDate: '1990-05-17', timezone: 'Asia/Shanghai' }, topic: 'overall', period: 'day', language: 'en' },
  }
}

describe('nextDelay', () => {
  it('backs off geometrically up to the cap', () => {
    const delays = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => nextDelay(attempt, undefined, DEFAULT_POLICY, noJitter))
    expect(delays).toEqual([1500, 2250, 3375, 5063, 7594, 11391, 15000, 15000, 15000])
  })

  it('never polls sooner than Retry-After, and a long Retry-After beats the cap', () => {
    expect(nextDelay(0, 2, DEFAULT_POLICY, noJitter)).toBe(2000)
    expect(nextDelay(3, 2, DEFAULT_POLICY, noJitter)).toBe(5063)
    expect(nextDelay(8, 60, DEFAULT_POLICY, noJitter)).toBe(60_000)
  })

  it('spreads by at most the jitter fraction', () => {
    expect(nextDelay(2, undefined, DEFAULT_POLICY, () => 0)).toBe(Math.round(3375 * 0.9))
    expect(nextDelay(2, undefined, DEFAULT_POLICY, () => 0.999999)).toBe(Math.round(3375 * 1.1 - 0.0003375))
    expect(nextDelay(9, undefined, DEFAULT_POLICY, () => 0.999999)).toBe(15_000)
  })
})

describe('pollUntilDone', () => {
  it('waits the accepted Retry-After first, then follows each answer’s Retry-After', async () => {
    const answers = [
      { view: view('queued'), retryAfter: 2 },
      { view: view('running', 1), retryAfter: 2 },
      { view: view('running', 1), retryAfter: 10 },
      { view: view('succeeded', 1) },
    ]
    const { sleep, waits } = recordingSleep()
    const seen: Status[] = []
    const final = await pollUntilDone({
      fetch: async () => answers.shift()!,
      sleep,
      stopped: () => false,
      firstRetryAfter: 3,
      random: noJitter,
      onEvent: (event) => {
        if (event.type === 'update') seen.push(event.view.status)
      },
    })
    expect(final?.status).toBe('succeeded')
    expect(seen).toEqual(['queued', 'running', 'running', 'succeeded'])
    // first wait: max(1500, 3 s); then backoff attempts 1, 2, 3 with the answers' floors
    expect(waits).toEqual([3000, 2250, 3375, 10_000])
  })

  it('long-polls only while the reading is being made', () => {
    expect([undefined, 'pending', 'queued', 'running', 'succeeded'].map((s) => longPollFor(s as Status | undefined))).toEqual([
      undefined,
      undefined,
      undefined,
      LONG_POLL_SECONDS,
      undefined,
    ])
  })

  it('asks again at once after a long poll the server held, and backs off when it did not', async () => {
    const answers = [
      { view: view('queued'), retryAfter: 2, waited: true },
      { view: view('running', 1), retryAfter: 2, waited: true },
      { view: view('running', 1), retryAfter: 2, waited: false },
      { view: view('succeeded', 1), waited: false },
    ]
    const { sleep, waits } = recordingSleep()
    const final = await pollUntilDone({
      fetch: async () => answers.shift()!,
      sleep,
      stopped: () => false,
      random: noJitter,
      onEvent: () => undefined,
    })
    expect(final?.status).toBe('succeeded')
    // no sleep after the two held answers; the one that was not held backs off (attempt 0)
    expect(waits).toEqual([2000])
  })

  it('polls at once when reopened on a request in flight', async () => {
    const { sleep, waits } = recordingSleep()
    const final = await pollUntilDone({
      fetch: async () => ({ view: view('failed', 4) }),
      sleep,
      stopped: () => false,
      onEvent: () => undefined,
    })
    expect(final?.status).toBe('failed')
    expect(waits).toEqual([])
  })

  it('keeps polling through network errors and 429s, honouring their Retry-After', async () => {
    const script: Array<() => Promise<{ view: FortuneView; retryAfter?: number }>> = [
      async () => { throw new ApiError({ kind: 'network', code: 'network', message: 'offline' }) },
      async () => { throw new ApiError({ kind: 'http', status: 429, code: 'rate_limited', message: 'slow', retryAfter: 20 }) },
      async () => ({ view: view('succeeded', 1) }),
    ]
    const { sleep, waits } = recordingSleep()
    const events: PollEvent[] = []
    const final = await pollUntilDone({
      fetch: () => script.shift()!(),
      sleep,
      stopped: () => false,
      random: noJitter,
      onEvent: (event) => events.push(event),
    })
    expect(final?.status).toBe('succeeded')
    expect(waits).toEqual([1500, 20_000])
    expect(events.map((e) => e.type)).toEqual(['retrying', 'retrying', 'update'])
  })

  it('gives up on 410 expired (nothing to wait for)', async () => {
    const gone = new ApiError({ kind: 'http', status: 410, code: 'expired', message: 'gone' })
    await expect(
      pollUntilDone({ fetch: async () => { throw gone }, sleep: async () => undefined, stopped: () => false, onEvent: () => undefined }),
    ).rejects.toBe(gone)
  })

  it('gives up on a 500 and on a state it does not know, which the page explains in either language', async () => {
    const broken = new ApiError({ kind: 'http', status: 500, code: 'internal', message: 'boom' })
    await expect(
      pollUntilDone({ fetch: async () => { throw broken }, sleep: async () => undefined, stopped: () => false, onEvent: () => undefined }),
    ).rejects.toBe(broken)
    const events: PollEvent[] = []
    const odd = pollUntilDone({
      fetch: async () => ({ view: { ...view('queued'), status: 'paused' as Status } }),
      sleep: async () => undefined,
      stopped: () => false,
      onEvent: (event) => events.push(event),
    })
    await expect(odd).rejects.toBeInstanceOf(UnknownState)
    expect(events).toEqual([])
    const error = await odd.catch((e: unknown) => e)
    expect(describeError(error, 'en')).toContain('(paused)')
    expect(describeError(error, 'zh-CN')).toContain('（paused）')
  })

  it('stops when the page goes away', async () => {
    let stopped = false
    let calls = 0
    const final = await pollUntilDone({
      fetch: async () => {
        calls += 1
        stopped = true // the page closes while this answer is on its way
        return { view: view('queued') }
      },
      sleep: async () => undefined,
      stopped: () => stopped,
      onEvent: () => { throw new Error('no update after the page went away') },
    })
    expect(final).toBeUndefined()
    expect(calls).toBe(1)
  })
})
