import { ApiError } from './errors'
import { header, parseRetryAfter, type HttpResponse, type Method, type Transport } from './http'
import type {
  Accepted,
  FieldMessage,
  FortuneRequestBody,
  FortuneView,
  HistoryPage,
  Polled,
  ProfileInput,
  ProfileResponse,
  SharedReading,
} from './types'

export const IDEMPOTENCY_HEADER = 'Idempotency-Key'

/** The CyberFortune HTTP API (docs/api.md). Every method throws ApiError on failure. */
export class FortuneApi {
  constructor(
    private readonly base: string,
    private readonly transport: Transport,
    private readonly now: () => number = Date.now,
  ) {}

  /** POST /v1/profiles: the derived chart and the almanac of `date` (default today). */
  async deriveProfile(profile: ProfileInput, date?: string): Promise<ProfileResponse> {
    const body: Record<string, unknown> = { profile }
    if (date) body.date = date
    const response = await this.send('POST', '/v1/profiles', body)
    return response.body as ProfileResponse
  }

  /** POST /v1/fortunes with an Idempotency-Key: the same key and body give the same id. */
  async startFortune(request: FortuneRequestBody, idempotencyKey: string): Promise<Accepted> {
    const response = await this.send('POST', '/v1/fortunes', request, {
      [IDEMPOTENCY_HEADER]: idempotencyKey,
    })
    const body = response.body as { id: string; status: Accepted['status'] }
    return {
      id: body.id,
      status: body.status,
      replayed: header(response, 'Idempotent-Replayed') === 'true',
      retryAfter: parseRetryAfter(header(response, 'Retry-After'), this.now()),
    }
  }

  /**
   * GET /v1/fortunes/{id}: the status and, when done, the result; Retry-After while in flight.
   * With `waitSeconds`, a long poll (`Prefer: wait=N`, RFC 7240): the server answers when the
   * request finishes or after N s, and `waited` says it did (`Preference-Applied`).
   */
  async getFortune(id: string, waitSeconds?: number): Promise<Polled> {
    const headers: Record<string, string> = {}
    if (waitSeconds !== undefined && waitSeconds > 0) headers.Prefer = `wait=${Math.floor(waitSeconds)}`
    const response = await this.send('GET', `/v1/fortunes/${encodeURIComponent(id)}`, undefined, headers)
    return {
      view: response.body as FortuneView,
      retryAfter: parseRetryAfter(header(response, 'Retry-After'), this.now()),
      waited: /^\s*wait=\d+/.test(header(response, 'Preference-Applied') ?? ''),
    }
  }

  /** DELETE /v1/fortunes/{id}?onlyIfActive=true: cancel; 409 `already_finished` when it had
   * finished (never deletes a reading that finished meanwhile). */
  async cancelFortune(id: string): Promise<void> {
    await this.send('DELETE', `/v1/fortunes/${encodeURIComponent(id)}?onlyIfActive=true`)
  }

  /** GET /v1/fortunes: a page of the caller's own readings (a session), newest first. */
  async listFortunes(cursor?: string, limit = 20): Promise<HistoryPage> {
    const query = `?limit=${limit}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : '')
    const response = await this.send('GET', `/v1/fortunes${query}`)
    return response.body as HistoryPage
  }

  /** DELETE /v1/fortunes/{id} of a finished reading: deleted on the server for good. */
  async deleteFortune(id: string): Promise<void> {
    await this.send('DELETE', `/v1/fortunes/${encodeURIComponent(id)}`)
  }

  /** DELETE /v1/fortunes until nothing is left: every reading of the caller; how many. */
  async deleteAll(): Promise<number> {
    let deleted = 0
    for (let call = 0; call < 100; call += 1) {
      const response = await this.send('DELETE', '/v1/fortunes')
      const body = response.body as { deleted: number; more: boolean }
      deleted += body.deleted
      if (!body.more) break
    }
    return deleted
  }

  /** POST /v1/fortunes/{id}/share: a token opening the redacted public view. */
  async share(id: string): Promise<string> {
    const response = await this.send('POST', `/v1/fortunes/${encodeURIComponent(id)}/share`)
    return (response.body as { token: string }).token
  }

  /** GET /v1/shared/{token}: the shared reading without personal data. */
  async openShare(token: string): Promise<SharedReading> {
    const response = await this.send('GET', `/v1/shared/${encodeURIComponent(token)}`)
    return response.body as SharedReading
  }

  /** POST /v1/fortunes/{id}/subscription: send "your reading is ready" when it finishes. */
  async subscribe(id: string): Promise<void> {
    await this.send('POST', `/v1/fortunes/${encodeURIComponent(id)}/subscription`)
  }

  private async send(
    method: Method,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = { Accept: 'application/json', ...extraHeaders }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    let response: HttpResponse
    try {
      response = await this.transport({ method, url: this.base + path, headers, body })
    } catch (error) {
      throw new ApiError({
        kind: 'network',
        code: 'network',
        message: error instanceof Error ? error.message : String(error),
      })
    }
    if (response.status >= 200 && response.status < 300) return response
    throw errorFromResponse(response, this.now())
  }
}

/** The ApiError for an error answer: `{"error": {code, message, fields?}}` when the API sent it. */
export function errorFromResponse(response: HttpResponse, nowMs: number): ApiError {
  const payload = (response.body ?? {}) as { error?: { code?: unknown; message?: unknown; fields?: unknown } }
  const error = typeof payload === 'object' && payload !== null ? payload.error : undefined
  const fields: Record<string, FieldMessage> = {}
  if (error && typeof error.fields === 'object' && error.fields !== null) {
    for (const [path, message] of Object.entries(error.fields as Record<string, unknown>)) {
      if (message && typeof message === 'object') {
        const { en, zh } = message as Partial<FieldMessage>
        fields[path] = { en: String(en ?? zh ?? ''), zh: String(zh ?? en ?? '') }
      } else if (typeof message === 'string') {
        fields[path] = { en: message, zh: message }
      }
    }
  }
  return new ApiError({
    kind: 'http',
    status: response.status,
    code: typeof error?.code === 'string' ? error.code : `http_${response.status}`,
    message: typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`,
    fields,
    retryAfter: parseRetryAfter(header(response, 'Retry-After'), nowMs),
  })
}
