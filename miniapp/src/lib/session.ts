import { errorFromResponse } from './api'
import type { HttpRequest, HttpResponse, Transport } from './http'
import type { KeyValueStore } from './storage'

/**
 * The user's session with the API (docs/api.md, "Sessions"): a WeChat login (`wx.login`'s code
 * exchanged by `POST /v1/sessions/wechat`) or, without `wx.login` (the H5 build), an anonymous
 * device session. The token is kept on the device and sent as `Authorization: Bearer`; it is
 * refreshed before it expires and, when the API says it is no longer valid, the user is logged
 * in again once. Nothing about the user (no openid, no session_key) ever reaches the device.
 */

export const SESSION_KEY = 'cf.session'
/** Refresh this long before the token's expiry. */
const REFRESH_MARGIN_MS = 5 * 60 * 1000

export interface StoredSession {
  token: string
  kind: 'wechat' | 'device'
  expiresAt: number
}

/** Gives a fresh `wx.login` code, or undefined where there is no wx.login (H5). */
export type LoginCode = () => Promise<string | undefined>

export class Sessions {
  private pending: Promise<StoredSession> | undefined
  /** The server issues no sessions (`sessions_off`): calls go without one. */
  private off = false

  constructor(
    private readonly base: string,
    private readonly transport: Transport,
    private readonly store: KeyValueStore,
    private readonly loginCode: LoginCode,
    private readonly now: () => number = Date.now,
  ) {}

  /** The stored session (possibly expired), if any. */
  current(): StoredSession | undefined {
    return this.store.get<StoredSession>(SESSION_KEY)
  }

  /** Whether the user is logged in with WeChat (their history lives on the server). */
  get loggedIn(): boolean {
    return this.current()?.kind === 'wechat'
  }

  /**
   * A valid token: the stored one, a refreshed one, or a new login (one at a time); undefined
   * when the server issues no sessions (then the API knows the caller by its address).
   */
  async token(): Promise<string | undefined> {
    if (this.off) return undefined
    const stored = this.current()
    if (stored && stored.expiresAt - REFRESH_MARGIN_MS > this.now()) return stored.token
    if (!this.pending) {
      this.pending = (stored ? this.refresh(stored).catch(() => this.login()) : this.login()).finally(
        () => {
          this.pending = undefined
        },
      )
    }
    try {
      return (await this.pending).token
    } catch (error) {
      if ((error as { code?: string }).code === 'sessions_off') {
        this.off = true
        return undefined
      }
      throw error
    }
  }

  /** Log in again (the stored session was refused). */
  async renew(): Promise<string | undefined> {
    this.store.remove(SESSION_KEY)
    return this.token()
  }

  /** Forget the session (e.g. after "delete my data"). */
  forget(): void {
    this.store.remove(SESSION_KEY)
  }

  private async login(): Promise<StoredSession> {
    const code = await this.loginCode()
    if (code !== undefined) return this.issue('/v1/sessions/wechat', { code })
    return this.issue('/v1/sessions/device')
  }

  private refresh(stored: StoredSession): Promise<StoredSession> {
    return this.issue('/v1/sessions/refresh', undefined, `Bearer ${stored.token}`)
  }

  private async issue(path: string, body?: unknown, authorization?: string): Promise<StoredSession> {
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    if (authorization) headers.Authorization = authorization
    const response = await this.transport({ method: 'POST', url: this.base + path, headers, body })
    if (response.status !== 200) throw errorFromResponse(response, this.now())
    const answer = response.body as { token: string; expiresIn: number; kind: StoredSession['kind'] }
    const session = {
      token: answer.token,
      kind: answer.kind,
      expiresAt: this.now() + answer.expiresIn * 1000,
    }
    this.store.set(SESSION_KEY, session)
    return session
  }
}

/** Whether a request goes to a route that takes no session (sessions, public shares). */
function open(request: HttpRequest): boolean {
  return /\/v1\/(sessions|shared)\//.test(request.url)
}

/**
 * `transport` with the session's `Authorization` on every API call; a 401 `invalid_session` logs
 * in again and retries once.
 */
export function withSession(transport: Transport, sessions: Sessions): Transport {
  return async (request: HttpRequest): Promise<HttpResponse> => {
    if (open(request)) return transport(request)
    const send = async (token: string | undefined): Promise<HttpResponse> =>
      token === undefined
        ? transport(request)
        : transport({ ...request, headers: { ...request.headers, Authorization: `Bearer ${token}` } })
    const response = await send(await sessions.token())
    const code = (response.body as { error?: { code?: string } } | undefined)?.error?.code
    if (response.status === 401 && code === 'invalid_session') return send(await sessions.renew())
    return response
  }
}
