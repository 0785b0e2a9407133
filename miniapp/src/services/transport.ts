import Taro from '@tarojs/taro'
import type { HttpRequest, HttpResponse, Transport } from '../lib/http'

/** Taro.request as a Transport: resolves with any HTTP answer, rejects when none arrived. */
export const taroTransport: Transport = async (request: HttpRequest): Promise<HttpResponse> => {
  const response = await Taro.request({
    url: request.url,
    method: request.method,
    header: request.headers,
    data: request.body as Record<string, unknown> | undefined,
    dataType: 'json',
    responseType: 'text',
    timeout: 20_000,
  })
  let body: unknown = response.data
  if (typeof body === 'string') {
    try {
      body = body ? JSON.parse(body) : undefined
    } catch {
      // not JSON (a proxy's error page): keep the text; the status says what happened
    }
  }
  return {
    status: response.statusCode,
    headers: (response.header ?? {}) as Record<string, string>,
    body,
  }
}
