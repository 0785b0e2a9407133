import { describe, expect, it } from 'vitest'
import { ApiError, UnknownState, describeError, isKnownStatus } from '../src/lib/errors'
import { messagesOf } from '../src/lib/i18n'
import type { Language } from '../src/lib/types'

const http = (status: number, code: string, retryAfter?: number) => new ApiError({ kind: 'http', status, code, message: code, retryAfter })

describe('the reason of a failed call', () => {
  const cases: Array<[string, unknown]> = [
    ['network', new ApiError({ kind: 'network', code: 'network', message: 'offline' })],
    ['500', http(500, 'internal')],
    ['503', http(503, 'unavailable')],
    ['429', http(429, 'rate_limited', 7)],
    ['418', http(418, 'teapot')],
    ['unknown state', new UnknownState('paused')],
    ['not an ApiError', new TypeError('x is undefined')],
  ]

  it('is told in the chosen language, each case its own sentence', () => {
    for (const lang of ['zh-CN', 'en'] as Language[]) {
      const sentences = cases.map(([, error]) => describeError(error, lang))
      expect(new Set(sentences).size, lang).toBe(cases.length)
      for (const sentence of sentences) expect(sentence).not.toMatch(/\{\w+\}/)
    }
    for (const [name, error] of cases) {
      expect(describeError(error, 'en'), name).not.toBe(describeError(error, 'zh-CN'))
    }
    expect(describeError(cases[1][1], 'en')).toBe(messagesOf('en').errServer.replace('{code}', 'internal'))
    expect(describeError(cases[3][1], 'zh-CN')).toContain('7 秒')
  })

  it('knows the API\'s statuses and nothing else', () => {
    for (const status of ['pending', 'queued', 'running', 'succeeded', 'failed', 'cancelled']) expect(isKnownStatus(status)).toBe(true)
    for (const status of ['paused', '', undefined, 3, 'expired']) expect(isKnownStatus(status)).toBe(false)
  })
})
