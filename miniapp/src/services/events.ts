import Taro from '@tarojs/taro'
import { eventsPath, StreamUnsupported, type ChunkSink, type OpenStream } from '../lib/streaming'

/**
 * `GET /v1/fortunes/{id}/events` on each platform, as an `OpenStream` (lib/streaming.ts):
 *
 * - weapp: `wx.request({enableChunked: true})` and the task's `onChunkReceived`, whose chunks
 *   are ArrayBuffers cut anywhere (lib/sse.ts puts frames and characters back together);
 * - H5: `fetch` and the body's ReadableStream.
 *
 * Where neither exists (an old base library, a browser without streams) it rejects with
 * StreamUnsupported and the page polls instead.
 */
export function eventStream(base: string, id: string, token?: () => Promise<string | undefined>): OpenStream {
  // The session (a WeChat login or a device session) owns the request: the stream carries it
  // as the API calls do, or the API answers 404 for someone else's request.
  const headers = async (): Promise<Record<string, string>> => {
    const session = token ? await token() : undefined
    return session ? { Accept: 'text/event-stream', Authorization: `Bearer ${session}` } : { Accept: 'text/event-stream' }
  }
  if (process.env.TARO_ENV === 'h5') {
    return async (after, sink) => fetchStream(base + eventsPath(id, after), await headers(), sink)
  }
  return async (after, sink) => chunkedRequest(base + eventsPath(id, after), await headers(), sink)
}

async function fetchStream(url: string, headers: Record<string, string>, sink: ChunkSink): Promise<void> {
  if (typeof fetch !== 'function' || typeof ReadableStream === 'undefined') {
    throw new StreamUnsupported('this browser cannot read a streamed answer')
  }
  const response = await fetch(url, { headers, cache: 'no-store' })
  if (response.status !== 200 || !response.body) {
    throw new StreamUnsupported(`the event stream answered HTTP ${response.status}`, response.status)
  }
  const reader = response.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    if (value) sink.chunk(value)
  }
}

interface ChunkedTask {
  onChunkReceived?: (listener: (result: { data: ArrayBuffer }) => void) => void
  onHeadersReceived?: (listener: (result: { statusCode?: number; header?: Record<string, string> }) => void) => void
  abort?: () => void
}

function chunkedRequest(url: string, header: Record<string, string>, sink: ChunkSink): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let status = 0
    let task: ChunkedTask | undefined
    try {
      task = Taro.request({
        url,
        method: 'GET',
        header,
        enableChunked: true,
        responseType: 'arraybuffer',
        timeout: 660_000, // longer than the server's FORTUNE_STREAM_MAX_SECONDS (600 s)
        success: (result) => {
          const code = result.statusCode || status
          if (code !== 200) reject(new StreamUnsupported(`the event stream answered HTTP ${code}`, code))
          else resolve()
        },
        fail: (error) => reject(new Error(error.errMsg || 'the event stream failed')),
      } as Parameters<typeof Taro.request>[0]) as unknown as ChunkedTask
    } catch (error) {
      reject(new StreamUnsupported(String(error)))
      return
    }
    if (!task || typeof task.onChunkReceived !== 'function') {
      task?.abort?.()
      reject(new StreamUnsupported('this base library cannot receive chunks'))
      return
    }
    task.onHeadersReceived?.((result) => {
      status = result.statusCode ?? 0
    })
    task.onChunkReceived((result) => {
      if (status === 0 || status === 200) sink.chunk(new Uint8Array(result.data))
    })
  })
}
