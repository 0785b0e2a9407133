import { SseParser, Utf8Decoder, type SseEvent } from './sse'
import type { FortuneResult, Status } from './types'

/**
 * A reading as it is written, from `GET /v1/fortunes/{id}/events` (docs/api.md): `status`
 * events, `delta` pieces of the narrative (joined in order), `reset` (a new attempt writes the
 * text again: what was shown is dropped, never glued to), `error`, and `result` at the end.
 */
export interface ReadingState {
  status?: Status
  attempts: number
  message?: string
  /** the narrative so far */
  text: string
  /** the attempt whose text is shown */
  attempt: number
  result?: FortuneResult
  error?: { code: string; message: string; retrying: boolean }
  /** the id of the last event applied: where a reconnect resumes */
  lastId?: string
  /** no more events will come */
  done: boolean
}

export const INITIAL_READING: ReadingState = { attempts: 0, text: '', attempt: 0, done: false }

/** The state after `event` (a pure function: the page keeps the state, the tests check it). */
export function applyEvent(state: ReadingState, event: SseEvent): ReadingState {
  let data: Record<string, unknown>
  try {
    data = JSON.parse(event.data) as Record<string, unknown>
  } catch {
    return { ...state, lastId: event.id ?? state.lastId }
  }
  const next: ReadingState = { ...state, lastId: event.id ?? state.lastId }
  switch (event.event) {
    case 'status': {
      next.status = data.status as Status
      next.attempts = Number(data.attempts ?? state.attempts)
      next.message = typeof data.message === 'string' ? data.message : undefined
      if (next.status === 'cancelled') next.done = true
      break
    }
    case 'delta': {
      const attempt = Number(data.attempt ?? state.attempt)
      if (attempt < state.attempt) break // a late piece of an attempt that was replaced
      if (attempt > state.attempt) next.text = '' // a new attempt starts its text afresh
      next.attempt = attempt
      next.text = next.text + String(data.text ?? '')
      break
    }
    case 'reset': {
      next.text = ''
      next.attempt = Math.max(state.attempt, Number(data.attempt ?? state.attempt))
      break
    }
    case 'error': {
      next.error = { code: String(data.code ?? ''), message: String(data.message ?? ''), retrying: Boolean(data.retrying) }
      if (!next.error.retrying) next.done = true
      break
    }
    case 'result': {
      next.result = data as unknown as FortuneResult
      next.text = next.result.text ?? next.text
      next.done = true
      break
    }
    default:
      break
  }
  return next
}

/** What a connection tells its reader. */
export interface ChunkSink {
  /** the next bytes (weapp's onChunkReceived, a ReadableStream) or text (a platform that decodes) */
  chunk: (data: Uint8Array | string) => void
}

/**
 * Opens the events after `afterId` and feeds `sink` until the server ends the stream (resolves)
 * or the connection fails (rejects). `StreamUnsupported` when this platform cannot stream.
 */
export type OpenStream = (afterId: string | undefined, sink: ChunkSink) => Promise<void>

/** This platform or server cannot stream (no chunked transfer, an HTTP error): poll instead. */
export class StreamUnsupported extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message)
  }
}

export interface FollowOptions {
  open: OpenStream
  onState: (state: ReadingState) => void
  sleep: (ms: number) => Promise<void>
  stopped: () => boolean
  /** reconnects in a row without a new event before giving up (then the caller polls) */
  maxReconnects?: number
}

/**
 * Follow a reading's events to its end, resuming after the last id on a dropped connection
 * (`?after=`: a mini-program cannot send Last-Event-ID by itself). Resolves with the final state,
 * or undefined when stopped; rejects with StreamUnsupported (the caller falls back to polling)
 * when streaming is not possible or keeps failing.
 */
export async function followReading(options: FollowOptions): Promise<ReadingState | undefined> {
  let state: ReadingState = INITIAL_READING
  let failures = 0
  const maxReconnects = options.maxReconnects ?? 5
  let retryMs = 2000
  while (!options.stopped()) {
    const before = state.lastId
    const decoder = new Utf8Decoder()
    const parser = new SseParser(state.lastId)
    const sink: ChunkSink = {
      chunk: (data) => {
        if (options.stopped()) return
        const text = typeof data === 'string' ? data : decoder.decode(data)
        for (const event of parser.feed(text)) {
          state = applyEvent(state, event)
          options.onState(state)
        }
      },
    }
    try {
      await options.open(state.lastId, sink)
    } catch (error) {
      if (error instanceof StreamUnsupported) throw error
      // a dropped connection: resume after the last id below
    }
    if (parser.retry !== undefined) retryMs = parser.retry
    if (options.stopped()) return undefined
    if (state.done) return state
    failures = state.lastId !== before ? 0 : failures + 1
    if (failures > maxReconnects) throw new StreamUnsupported('the event stream keeps failing')
    await options.sleep(failures === 0 ? 0 : Math.min(retryMs * failures, 15_000))
  }
  return undefined
}

/** `/v1/fortunes/{id}/events`, resuming after `afterId`. */
export function eventsPath(id: string, afterId: string | undefined): string {
  const base = `/v1/fortunes/${encodeURIComponent(id)}/events`
  return afterId ? `${base}?after=${encodeURIComponent(afterId)}` : base
}
