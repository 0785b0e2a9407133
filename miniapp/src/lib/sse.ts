/**
 * Server-sent events without EventSource or TextDecoder (a WeChat mini-program has neither on
 * real devices): bytes arrive in chunks that split UTF-8 characters and SSE frames anywhere;
 * `Utf8Decoder` keeps an unfinished character for the next chunk, `SseParser` an unfinished
 * frame (the WHATWG event-stream rules: `field: value` lines, a blank line ends an event, `:`
 * starts a comment, `\r\n`, `\n` and `\r` all end a line).
 */

/** UTF-8 bytes → text, across chunks (a character cut between two chunks waits for the rest). */
export class Utf8Decoder {
  private pending: number[] = []

  decode(chunk: Uint8Array): string {
    const bytes = this.pending.length ? [...this.pending, ...chunk] : Array.from(chunk)
    this.pending = []
    let text = ''
    let i = 0
    while (i < bytes.length) {
      const first = bytes[i]
      const size = first < 0x80 ? 1 : first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1
      if (i + size > bytes.length) {
        this.pending = bytes.slice(i) // the rest of this character is in the next chunk
        break
      }
      let code: number
      if (size === 1) {
        code = first < 0x80 ? first : 0xfffd // a stray continuation byte
      } else {
        code = first & (0xff >> (size + 1))
        for (let k = 1; k < size; k += 1) code = (code << 6) | (bytes[i + k] & 0x3f)
      }
      text += String.fromCodePoint(code)
      i += size
    }
    return text
  }
}

export interface SseEvent {
  /** the `id:` of the event (or the last one seen before it) */
  id?: string
  /** `event:`, 'message' when absent */
  event: string
  data: string
}

/** Text → SSE events, across chunks. `retry` is the server's reconnection delay, when it sent one. */
export class SseParser {
  private buffer = ''
  private data: string[] = []
  private event = ''
  private sawData = false
  lastId: string | undefined
  retry: number | undefined

  constructor(lastId?: string) {
    this.lastId = lastId
  }

  /** The events completed by `text`. */
  feed(text: string): SseEvent[] {
    this.buffer += text
    const events: SseEvent[] = []
    for (;;) {
      const match = /\r\n|\n|\r/.exec(this.buffer)
      // A lone \r at the very end may be the first half of \r\n: wait for the next chunk.
      if (!match || (match[0] === '\r' && match.index === this.buffer.length - 1)) break
      const line = this.buffer.slice(0, match.index)
      this.buffer = this.buffer.slice(match.index + match[0].length)
      const event = this.line(line)
      if (event) events.push(event)
    }
    return events
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      if (!this.sawData) {
        this.event = ''
        return undefined
      }
      const event: SseEvent = { id: this.lastId, event: this.event || 'message', data: this.data.join('\n') }
      this.data = []
      this.event = ''
      this.sawData = false
      return event
    }
    if (line.startsWith(':')) return undefined // a comment (the server's keep-alive)
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') {
      this.data.push(value)
      this.sawData = true
    } else if (field === 'event') {
      this.event = value
    } else if (field === 'id' && !value.includes('\0')) {
      this.lastId = value
    } else if (field === 'retry' && /^\d+$/.test(value)) {
      this.retry = Number(value)
    }
    return undefined
  }
}
