import { describe, expect, it } from 'vitest'
import { FortuneApi, IDEMPOTENCY_HEADER } from '../src/lib/api'
import { ApiError } from '../src/lib/errors'
import { MemoryStore } from '../src/lib/storage'
import { SUBMISSION_KEY, SUBMISSION_KEY_MAX_AGE_MS, Submitter, fingerprint, newIdempotencyKey } from '../src/lib/submit'
import type { FortuneRequestBody } from '../src/lib/types'
import { ScriptedTransport, json, recordingSleep } from './fakes'

const BODY: FortuneRequestBody = {
  profile: { gender: 'male', calendar: 'solar', birthDate: '1988-06-01', birthTime: '09:30', timezone: 'Asia/Shanghai' },
  topic: 'wealth',
  period: 'month',
  language: 'zh-CN',
}
const ACCEPTED = json(202, { id: '01KB0000000000000000000000', status: 'queued' }, { 'Retry-After': '2' })
const UNAVAILABLE = json(503, { error: { code: 'backend_unavailable', message: 'rabbitmq is unavailable' } }, { 'Retry-After': '5' })

function setup(transport: ScriptedTransport, store = new MemoryStore(), now = () => 1_000_000) {
  const { sleep, waits } = recordingSleep()
  let seed = 42
  const submitter = new Submitter({
    api: new FortuneApi('', transport.send, now),
    store,
    sleep,
    now,
    random: () => {
      seed = (seed * 1103515245 + 12345) % 2147483648 // an LCG: varied, repeatable
      return seed / 2147483648
    },
  })
  return { submitter, waits, store }
}

const keysOf = (transport: ScriptedTransport) => transport.requests.map((r) => r.headers[IDEMPOTENCY_HEADER])

describe('idempotent submission', () => {
  it('retries a network error and a 503 with the same key', async () => {
    const transport = new ScriptedTransport(new Error('socket hang up'), UNAVAILABLE, ACCEPTED)
    const { submitter, waits } = setup(transport)
    const retries: string[] = []
    const accepted = await submitter.submit(BODY, (error) => retries.push(error.code))
    expect(accepted.id).toBe('01KB0000000000000000000000')
    const keys = keysOf(transport)
    expect(keys).toHaveLength(3)
    expect(new Set(keys).size).toBe(1)
    expect(retries).toEqual(['network', 'backend_unavailable'])
    expect(waits[1]).toBeGreaterThanOrEqual(5000) // the 503's Retry-After
  })

  it('shares the call in flight between two taps', async () => {
    let release: (value: unknown) => void = () => undefined
    const gate = new Promise((resolve) => { release = resolve })
    const transport = new ScriptedTransport(ACCEPTED)
    const slow = async (request: Parameters<typeof transport.send>[0]) => {
      await gate
      return transport.send(request)
    }
    const submitter = new Submitter({ api: new FortuneApi('', slow), store: new MemoryStore(), sleep: async () => undefined })
    const first = submitter.submit(BODY)
    const second = submitter.submit({ ...BODY, profile: { ...BODY.profile } })
    release(undefined)
    expect(await first).toEqual(await second)
    expect(transport.requests).toHaveLength(1)
  })

  it('reuses the stored key after the page was closed mid-submission', async () => {
    const store = new MemoryStore()
    const lost = new ScriptedTransport(new Error('offline'), new Error('offline'), new Error('offline'), new Error('offline'))
    await expect(setup(lost, store).submitter.submit(BODY)).rejects.toBeInstanceOf(ApiError)
    expect(lost.requests).toHaveLength(4)
    // a new page (new Submitter, same storage) sending the same body sends the same key
    const again = new ScriptedTransport(ACCEPTED)
    await setup(again, store).submitter.submit(BODY)
    expect(keysOf(again)[0]).toBe(keysOf(lost)[0])
    expect(store.get(SUBMISSION_KEY)).toBeUndefined() // dropped once the id is known
  })

  it('uses a new key for a different body, after success and after an hour', async () => {
    const store = new MemoryStore()
    let now = 1_000_000
    const transport = new ScriptedTransport(new Error('offline'), ACCEPTED, ACCEPTED)
    const { submitter } = setup(transport, store, () => now)
    await submitter.submit(BODY) // offline, then accepted: one key
    await submitter.submit(BODY) // after success: a new reading, a new key
    const keys = keysOf(transport)
    expect(keys[0]).toBe(keys[1])
    expect(keys[2]).not.toBe(keys[1])
    const first = submitter.keyFor(BODY)
    expect(submitter.keyFor({ ...BODY, topic: 'love' })).not.toBe(first)
    const stale = submitter.keyFor(BODY)
    now += SUBMISSION_KEY_MAX_AGE_MS
    expect(submitter.keyFor(BODY)).not.toBe(stale)
  })

  it('does not retry a 422 and renews a key the API says was used for another body', async () => {
    const invalid = json(422, { error: { code: 'invalid_request', message: 'bad', fields: { 'profile.birthDate': { en: 'x', zh: 'y' } } } })
    const once = new ScriptedTransport(invalid)
    await expect(setup(once).submitter.submit(BODY)).rejects.toMatchObject({ status: 422 })
    expect(once.requests).toHaveLength(1)

    const reused = json(422, { error: { code: 'idempotency_key_reused', message: 'used with a different body' } })
    const renewed = new ScriptedTransport(reused, ACCEPTED)
    await setup(renewed).submitter.submit(BODY)
    const keys = keysOf(renewed)
    expect(keys).toHaveLength(2)
    expect(keys[0]).not.toBe(keys[1])
  })

  it('waits out a 429 with its Retry-After and then sends the same key', async () => {
    const limited = json(429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'Retry-After': '30' })
    const transport = new ScriptedTransport(limited, ACCEPTED)
    const { submitter, waits } = setup(transport)
    await submitter.submit(BODY)
    expect(waits).toEqual([30_000])
    expect(new Set(keysOf(transport)).size).toBe(1)
  })
})

describe('keys and fingerprints', () => {
  it('fingerprints ignore key order and undefined fields', () => {
    expect(fingerprint({ b: 1, a: { d: [1, 2], c: undefined } })).toBe(fingerprint({ a: { d: [1, 2] }, b: 1 }))
    expect(fingerprint({ a: [1, 2] })).not.toBe(fingerprint({ a: [2, 1] }))
  })

  it('keys are unique per submission', () => {
    const a = newIdempotencyKey(1000, () => 0.1)
    const b = newIdempotencyKey(1000, () => 0.9)
    expect(a).toMatch(/^cf-[0-9a-z]+-[0-9a-f]{16}$/)
    expect(a).not.toBe(b)
  })
})
