import { describe, expect, it } from 'vitest'
import { FortuneApi, IDEMPOTENCY_HEADER } from '../src/lib/api'
import { ApiError, describeError } from '../src/lib/errors'
import { header, parseRetryAfter } from '../src/lib/http'
import type { FortuneRequestBody } from '../src/lib/types'
import { ScriptedTransport, json } from './fakes'

const BODY: FortuneRequestBody = {
  profile: { gender: 'female', calendar: 'solar', birthDate: '1990-05-17', birthTime: '08:30', timezone: 'Asia/Shanghai' },
  topic: 'career',
  period: 'day',
  language: 'zh-CN',
}
const NOW = Date.parse('2026-11-25T08:00:00Z')

describe('FortuneApi', () => {
  it('starts a reading with the Idempotency-Key and reads Retry-After and the replay header', async () => {
    const transport = new ScriptedTransport(
      json(202, { id: '01KAXYZ', status: 'queued' }, { 'Retry-After': '2', 'Idempotent-Replayed': 'true' }),
    )
    const api = new FortuneApi('http://api.test', transport.send, () => NOW)
    const accepted = await api.startFortune(BODY, 'key-1')
    expect(accepted).toEqual({ id: '01KAXYZ', status: 'queued', replayed: true, retryAfter: 2 })
    const [request] = transport.requests
    expect(request.method).toBe('POST')
    expect(request.url).toBe('http://api.test/v1/fortunes')
    expect(request.headers[IDEMPOTENCY_HEADER]).toBe('key-1')
    expect(request.headers['Content-Type']).toBe('application/json')
    expect(request.body).toEqual(BODY)
  })

  it('derives a profile with only the profile and the optional date', async () => {
    const transport = new ScriptedTransport(json(200, { profile: {}, almanac: {} }))
    await new FortuneApi('', transport.send).deriveProfile(BODY.profile, '2026-01-02')
    expect(transport.requests[0].url).toBe('/v1/profiles')
    expect(transport.requests[0].body).toEqual({ profile: BODY.profile, date: '2026-01-02' })
  })

  it('asks for a long poll with Prefer: wait=N and reads whether the server held it', async () => {
    const transport = new ScriptedTransport(
      json(200, { id: 'x', status: 'running' }, { 'Preference-Applied': 'wait=10', 'Retry-After': '2' }),
      json(200, { id: 'x', status: 'running' }, { 'Retry-After': '2' }),
      json(200, { id: 'x', status: 'running' }),
    )
    const api = new FortuneApi('', transport.send, () => NOW)
    expect(await api.getFortune('x', 10)).toMatchObject({ waited: true, retryAfter: 2 })
    expect(await api.getFortune('x', 10)).toMatchObject({ waited: false, retryAfter: 2 })
    expect((await api.getFortune('x')).waited).toBe(false)
    expect(transport.requests.map((r) => r.headers.Prefer)).toEqual(['wait=10', 'wait=10', undefined])
  })

  it('escapes the id in the query and cancel paths', async () => {
    const transport = new ScriptedTransport(json(200, { id: 'a/b', status: 'running' }), json(202, {}))
    const api = new FortuneApi('', transport.send)
    await api.getFortune('a/b')
    await api.cancelFortune('a/b')
    expect(transport.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /v1/fortunes/a%2Fb',
      'DELETE /v1/fortunes/a%2Fb?onlyIfActive=true',
    ])
    expect(transport.requests[0].headers['Content-Type']).toBeUndefined()
  })

  it('turns a 422 into an ApiError with the field messages in both languages', async () => {
    const transport = new ScriptedTransport(
      json(422, {
        error: {
          code: 'invalid_request',
          message: 'the request has invalid fields; see fields for each one',
          fields: { 'profile.birthDate': { en: 'is not a real date', zh: '不是有效的日期' } },
        },
      }),
    )
    const error = await new FortuneApi('', transport.send).deriveProfile(BODY.profile).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    const apiError = error as ApiError
    expect(apiError.status).toBe(422)
    expect(apiError.code).toBe('invalid_request')
    expect(apiError.fields).toEqual({ 'profile.birthDate': { en: 'is not a real date', zh: '不是有效的日期' } })
    expect(apiError.retryable).toBe(false)
  })

  it('reads Retry-After of a 429 whatever the header case, and marks it retryable', async () => {
    const transport = new ScriptedTransport(json(429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '7' }))
    const error = (await new FortuneApi('', transport.send).getFortune('x').catch((e: unknown) => e)) as ApiError
    expect(error.status).toBe(429)
    expect(error.retryAfter).toBe(7)
    expect(error.retryable).toBe(true)
    expect(describeError(error, 'zh-CN')).toContain('7 秒')
    expect(describeError(error, 'en')).toContain('7 s')
  })

  it('reports no answer at all as a retryable network error', async () => {
    const transport = new ScriptedTransport(new Error('Failed to fetch'))
    const error = (await new FortuneApi('', transport.send).getFortune('x').catch((e: unknown) => e)) as ApiError
    expect(error.kind).toBe('network')
    expect(error.retryable).toBe(true)
    expect(describeError(error, 'en')).toMatch(/offline/)
  })

  it('copes with an error body that is not ours (a proxy page)', async () => {
    const transport = new ScriptedTransport({ status: 502, headers: {}, body: '<html>Bad gateway</html>' })
    const error = (await new FortuneApi('', transport.send).getFortune('x').catch((e: unknown) => e)) as ApiError
    expect(error.code).toBe('http_502')
    expect(error.retryable).toBe(true)
    expect(describeError(error, 'zh-CN')).toContain('服务暂时不可用')
  })
})

describe('headers', () => {
  it('are found whatever their case', () => {
    expect(header({ status: 200, body: null, headers: { 'retry-after': '3' } }, 'Retry-After')).toBe('3')
    expect(header({ status: 200, body: null, headers: { 'Retry-After': '3' } }, 'retry-after')).toBe('3')
    expect(header({ status: 200, body: null, headers: {} }, 'Retry-After')).toBeUndefined()
  })

  it('Retry-After is seconds or an HTTP date', () => {
    expect(parseRetryAfter('5', NOW)).toBe(5)
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0)
    expect(parseRetryAfter(new Date(NOW + 30_000).toUTCString(), NOW)).toBe(30)
    expect(parseRetryAfter(new Date(NOW - 30_000).toUTCString(), NOW)).toBe(0)
    expect(parseRetryAfter('soon', NOW)).toBeUndefined()
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined()
  })
})
