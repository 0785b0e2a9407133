import { describe, expect, it } from 'vitest'
import { FortuneApi } from '../src/lib/api'
import type { HttpRequest, HttpResponse } from '../src/lib/http'
import { consented, deleteMyData, ensureConsent, LOCAL_KEYS } from '../src/lib/privacy'
import { Sessions, SESSION_KEY, withSession } from '../src/lib/session'
import { MemoryStore } from '../src/lib/storage'

const json = (status: number, body: unknown): HttpResponse => ({ status, headers: {}, body })

/** A fake API: sessions numbered by issue, and a protected route that checks the token. */
class FakeServer {
  readonly requests: HttpRequest[] = []
  issued = 0
  valid = new Set<string>()
  deleted = 0

  send = async (request: HttpRequest): Promise<HttpResponse> => {
    this.requests.push(request)
    const path = request.url
    if (path.startsWith('/v1/sessions/')) {
      const kind = path.endsWith('/wechat') ? 'wechat' : path.endsWith('/device') ? 'device' : 'refresh'
      if (kind === 'refresh' && !this.valid.has((request.headers.Authorization ?? '').slice(7)))
        return json(401, { error: { code: 'invalid_session' } })
      this.issued += 1
      const token = `t${this.issued}`
      this.valid.add(token)
      return json(200, { token, expiresIn: 7200, kind: kind === 'refresh' ? 'wechat' : kind })
    }
    const token = (request.headers.Authorization ?? '').slice(7)
    if (!this.valid.has(token)) return json(401, { error: { code: 'invalid_session' } })
    if (request.method === 'DELETE') {
      this.deleted += 3
      return json(200, { deleted: 3, more: false })
    }
    return json(200, { items: [], next: null })
  }
}

describe('sessions', () => {
  it('logs in with the wx.login code once, then reuses and refreshes the token', async () => {
    let now = 1_000_000
    const server = new FakeServer()
    const store = new MemoryStore()
    const codes: string[] = []
    const sessions = new Sessions('', server.send, store, async () => {
      codes.push(`code${codes.length}`)
      return codes[codes.length - 1]
    }, () => now)
    const api = new FortuneApi('', withSession(server.send, sessions))
    await api.listFortunes()
    await api.listFortunes()
    expect(codes).toEqual(['code0']) // one wx.login, one exchange
    expect(server.requests.map((r) => r.url)).toEqual(['/v1/sessions/wechat', '/v1/fortunes?limit=20', '/v1/fortunes?limit=20'])
    expect(server.requests[0].body).toEqual({ code: 'code0' })
    expect(sessions.loggedIn).toBe(true)
    now += 7200 * 1000 // expired: refreshed, not logged in again
    await api.listFortunes()
    expect(server.requests.at(-2)?.url).toBe('/v1/sessions/refresh')
    expect(codes).toHaveLength(1)
  })

  it('logs in again once when the API refuses the session', async () => {
    const server = new FakeServer()
    const store = new MemoryStore()
    store.set(SESSION_KEY, { token: 'stale', kind: 'wechat', expiresAt: Date.now() + 3_600_000 })
    const sessions = new Sessions('', server.send, store, async () => 'fresh-code')
    const api = new FortuneApi('', withSession(server.send, sessions))
    await api.listFortunes()
    expect(server.requests.map((r) => r.url)).toEqual(['/v1/fortunes?limit=20', '/v1/sessions/wechat', '/v1/fortunes?limit=20'])
  })

  it('takes a device session where there is no wx.login (H5)', async () => {
    const server = new FakeServer()
    const sessions = new Sessions('', server.send, new MemoryStore(), async () => undefined)
    await sessions.token()
    expect(server.requests[0].url).toBe('/v1/sessions/device')
    expect(sessions.loggedIn).toBe(false)
  })
})

describe('privacy', () => {
  it('asks for consent once, and refusing sends nothing', async () => {
    const store = new MemoryStore()
    expect(await ensureConsent(store, async () => false)).toBe(false)
    expect(consented(store)).toBe(false)
    let asked = 0
    const ask = async () => {
      asked += 1
      return true
    }
    expect(await ensureConsent(store, ask)).toBe(true)
    expect(await ensureConsent(store, ask)).toBe(true)
    expect(asked).toBe(1)
  })

  it('"delete my data" deletes on the server, then every local key', async () => {
    const server = new FakeServer()
    const store = new MemoryStore()
    const sessions = new Sessions('', server.send, store, async () => 'code')
    const api = new FortuneApi('', withSession(server.send, sessions))
    await sessions.token()
    for (const key of LOCAL_KEYS) store.set(key, { some: 'data' })
    const deleted = await deleteMyData(store, api, sessions)
    expect(deleted).toEqual({ server: 3, local: LOCAL_KEYS.length })
    expect(store.data.size).toBe(0)
    expect(server.requests.at(-1)?.method).toBe('DELETE')
  })

  it('leaves the device alone when the server could not delete', async () => {
    const store = new MemoryStore()
    const failing = async (request: HttpRequest): Promise<HttpResponse> =>
      request.url.startsWith('/v1/sessions/')
        ? json(200, { token: 't', expiresIn: 7200, kind: 'wechat' })
        : json(503, { error: { code: 'backend_unavailable' } })
    const sessions = new Sessions('', failing, store, async () => 'code')
    await sessions.token()
    store.set('cf.history', [1])
    await expect(deleteMyData(store, new FortuneApi('', withSession(failing, sessions)), sessions)).rejects.toThrow()
    expect(store.get('cf.history')).toEqual([1])
  })
})

describe('a server without sessions', () => {
  it('is called without one (sessions_off), and asked only once', async () => {
    const requests: HttpRequest[] = []
    const send = async (request: HttpRequest): Promise<HttpResponse> => {
      requests.push(request)
      if (request.url.startsWith('/v1/sessions/')) return json(404, { error: { code: 'sessions_off' } })
      return json(200, { items: [], next: null })
    }
    const sessions = new Sessions('', send, new MemoryStore(), async () => undefined)
    const api = new FortuneApi('', withSession(send, sessions))
    await api.listFortunes()
    await api.listFortunes()
    expect(requests.map((r) => r.url)).toEqual(['/v1/sessions/device', '/v1/fortunes?limit=20', '/v1/fortunes?limit=20'])
    expect(requests[1].headers.Authorization).toBeUndefined()
  })
})
