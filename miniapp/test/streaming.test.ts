import { describe, expect, it } from 'vitest'
import { SseParser, Utf8Decoder, type SseEvent } from '../src/lib/sse'
import {
  applyEvent,
  eventsPath,
  followReading,
  INITIAL_READING,
  StreamUnsupported,
  type ChunkSink,
  type ReadingState,
} from '../src/lib/streaming'
import { recordingSleep } from './fakes'

/** UTF-8 bytes of `text` (Node's encoder: the test's reference, not the code under test). */
const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'))

function frame(id: string, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

const STREAM =
  'retry: 2000\n\n' +
  frame('1-0', 'status', { status: 'queued', attempts: 0 }) +
  frame('2-0', 'status', { status: 'running', attempts: 1 }) +
  ': keep-alive\n\n' +
  frame('3-0', 'delta', { text: '今日宜静，', attempt: 1 }) +
  frame('4-0', 'delta', { text: '🐉 rises. ', attempt: 1 }) +
  frame('5-0', 'status', { status: 'succeeded', attempts: 1 }) +
  frame('5-1', 'result', { summary: 's', text: '今日宜静，🐉 rises. ' })

describe('Utf8Decoder', () => {
  it('decodes characters cut anywhere between chunks', () => {
    const text = 'aé今🐉\u0000z'
    const bytes = utf8(text)
    for (let cut = 0; cut <= bytes.length; cut += 1) {
      for (let cut2 = cut; cut2 <= bytes.length; cut2 += 1) {
        const decoder = new Utf8Decoder()
        const out = decoder.decode(bytes.slice(0, cut)) + decoder.decode(bytes.slice(cut, cut2)) + decoder.decode(bytes.slice(cut2))
        expect(out).toBe(text)
      }
    }
  })

  it('decodes one byte at a time', () => {
    const decoder = new Utf8Decoder()
    expect(Array.from(utf8('运势🐉')).map((b) => decoder.decode(new Uint8Array([b]))).join('')).toBe('运势🐉')
  })
})

describe('SseParser', () => {
  it('gives the same events whatever the chunking, \\r\\n or \\n', () => {
    const whole = new SseParser().feed(STREAM)
    expect(whole.map((e) => [e.id, e.event])).toEqual([
      ['1-0', 'status'],
      ['2-0', 'status'],
      ['3-0', 'delta'],
      ['4-0', 'delta'],
      ['5-0', 'status'],
      ['5-1', 'result'],
    ])
    for (const text of [STREAM, STREAM.replace(/\n/g, '\r\n')]) {
      for (const size of [1, 2, 3, 7, 64]) {
        const parser = new SseParser()
        const events: SseEvent[] = []
        for (let i = 0; i < text.length; i += size) events.push(...parser.feed(text.slice(i, i + size)))
        expect(events).toEqual(whole)
        expect(parser.retry).toBe(2000)
      }
    }
  })

  it('joins data lines, skips comments, defaults the event name', () => {
    const events = new SseParser().feed(': hi\ndata: a\ndata: b\n\nid: 7-0\ndata:c\n\n')
    expect(events).toEqual([
      { id: undefined, event: 'message', data: 'a\nb' },
      { id: '7-0', event: 'message', data: 'c' },
    ])
  })
})

function replay(events: SseEvent[], from: ReadingState = INITIAL_READING): ReadingState {
  return events.reduce(applyEvent, from)
}

describe('applyEvent', () => {
  it('grows the text, then takes the result', () => {
    const events = new SseParser().feed(STREAM)
    const before = replay(events.slice(0, 4))
    expect(before).toMatchObject({ status: 'running', text: '今日宜静，🐉 rises. ', lastId: '4-0', done: false })
    const after = replay(events)
    expect(after.done).toBe(true)
    expect(after.result?.summary).toBe('s')
    expect(after.lastId).toBe('5-1')
  })

  it('a reset or a new attempt replaces the text, a late piece of an old attempt is dropped', () => {
    const events = new SseParser().feed(
      frame('1-0', 'delta', { text: 'first try, cut', attempt: 1 }) +
        frame('2-0', 'error', { code: 'llm_unreachable', message: 'cut', retrying: true }) +
        frame('3-0', 'reset', { attempt: 2 }) +
        frame('4-0', 'delta', { text: 'second', attempt: 2 }) +
        frame('5-0', 'delta', { text: ' LATE', attempt: 1 }) +
        frame('6-0', 'delta', { text: ' try', attempt: 2 }),
    )
    const state = replay(events)
    expect(state.text).toBe('second try')
    expect(state.error?.retrying).toBe(true)
    expect(state.done).toBe(false)
    // a new attempt's first delta replaces the text even if its reset was missed
    expect(replay([events[0], events[3]]).text).toBe('second')
  })

  it('ends on a final error or a cancelled status', () => {
    const failed = new SseParser().feed(frame('1-0', 'status', { status: 'failed', attempts: 2 }) + frame('1-1', 'error', { code: 'x', message: 'no', retrying: false }))
    expect(replay(failed).done).toBe(true)
    const cancelled = new SseParser().feed(frame('1-0', 'status', { status: 'cancelled', attempts: 0 }))
    expect(replay(cancelled).done).toBe(true)
  })
})

/** A scripted server: each connection sends its chunks, then ends or drops. */
function scripted(connections: Array<{ chunks: Array<Uint8Array | string>; drop?: boolean; unsupported?: boolean }>) {
  const opened: Array<string | undefined> = []
  const open = async (after: string | undefined, sink: ChunkSink) => {
    opened.push(after)
    const connection = connections.shift()
    if (!connection) throw new Error('no connection scripted')
    if (connection.unsupported) throw new StreamUnsupported('no chunks here')
    connection.chunks.forEach((chunk) => sink.chunk(chunk))
    if (connection.drop) throw new Error('connection dropped')
  }
  return { open, opened }
}

describe('followReading', () => {
  it('resumes after the last id when the connection drops, chunks cut mid-character', async () => {
    const bytes = utf8(STREAM)
    const cut = bytes.indexOf(0xf0) + 2 // inside the dragon's four bytes
    const firstPart = utf8(STREAM.slice(0, STREAM.indexOf('id: 4-0')))
    const server = scripted([
      { chunks: [bytes.slice(0, 30), bytes.slice(30, firstPart.length)], drop: true },
      { chunks: [bytes.slice(firstPart.length, cut), bytes.slice(cut)] },
    ])
    const { sleep } = recordingSleep()
    const texts: string[] = []
    const final = await followReading({ open: server.open, onState: (s) => texts.push(s.text), sleep, stopped: () => false })
    expect(server.opened).toEqual([undefined, '3-0'])
    expect(final?.result?.text).toBe('今日宜静，🐉 rises. ')
    expect(texts).toContain('今日宜静，')
    expect(texts.every((t) => '今日宜静，🐉 rises. '.startsWith(t))).toBe(true)
  })

  it('falls back (StreamUnsupported) where chunks are not available or the stream keeps failing', async () => {
    const { sleep } = recordingSleep()
    const none = scripted([{ chunks: [], unsupported: true }])
    await expect(followReading({ open: none.open, onState: () => {}, sleep, stopped: () => false })).rejects.toBeInstanceOf(StreamUnsupported)
    const failing = scripted(Array.from({ length: 10 }, () => ({ chunks: ['retry: 10\n\n'], drop: true })))
    const waits = recordingSleep()
    await expect(
      followReading({ open: failing.open, onState: () => {}, sleep: waits.sleep, stopped: () => false, maxReconnects: 3 }),
    ).rejects.toBeInstanceOf(StreamUnsupported)
    expect(failing.opened.length).toBe(4)
    expect(waits.waits).toEqual([10, 20, 30])
  })

  it('builds the resume path', () => {
    expect(eventsPath('01ABC', undefined)).toBe('/v1/fortunes/01ABC/events')
    expect(eventsPath('01ABC', '17-0')).toBe('/v1/fortunes/01ABC/events?after=17-0')
  })
})
