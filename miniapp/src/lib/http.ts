/** Transport-neutral HTTP: the pages use Taro.request (services/transport.ts), tests a fake. */

export type Method = 'GET' | 'POST' | 'DELETE'

export interface HttpRequest {
  method: Method
  url: string
  headers: Record<string, string>
  body?: unknown
}

export interface HttpResponse {
  status: number
  /** header names as the platform gives them (H5: lower case; WeChat: as sent) */
  headers: Record<string, string>
  body: unknown
}

/** Sends one request; rejects only when no HTTP answer arrived (network error, timeout). */
export type Transport = (request: HttpRequest) => Promise<HttpResponse>

/** A header's value by case-insensitive name. */
export function header(response: HttpResponse, name: string): string | undefined {
  const wanted = name.toLowerCase()
  for (const [key, value] of Object.entries(response.headers ?? {})) {
    if (key.toLowerCase() === wanted) return String(value)
  }
  return undefined
}

/**
 * Retry-After in seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when
 * absent or unreadable. A date in the past gives 0.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text)
  const when = Date.parse(text)
  if (Number.isNaN(when)) return undefined
  return Math.max(0, Math.ceil((when - nowMs) / 1000))
}
