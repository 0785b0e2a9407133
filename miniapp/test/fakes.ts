import type { HttpRequest, HttpResponse, Transport } from '../src/lib/http'

/** A scripted transport: answers in order, records every request it was given. */
export class ScriptedTransport {
  readonly requests: HttpRequest[] = []
  private readonly answers: Array<HttpResponse | Error>

  constructor(...answers: Array<HttpResponse | Error>) {
    this.answers = answers
  }

  readonly send: Transport = async (request) => {
    this.requests.push(JSON.parse(JSON.stringify(request)) as HttpRequest)
    const answer = this.answers.shift()
    if (answer === undefined) throw new Error('no scripted answer left')
    if (answer instanceof Error) throw answer
    return answer
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, body, headers: { 'content-type': 'application/json', ...headers } }
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** A ULID made at `ms` (the random part fixed), like the API's request ids. */
export function ulidAt(ms: number, tail = 'ABCDEFGHJKMNPQRS'): string {
  let time = ''
  let value = ms
  for (let i = 0; i < 10; i += 1) {
    time = CROCKFORD[value % 32] + time
    value = Math.floor(value / 32)
  }
  return time + tail
}

/** A sleep that records the waits and returns at once. */
export function recordingSleep(): { sleep: (ms: number) => Promise<void>; waits: number[] } {
  const waits: number[] = []
  return { waits, sleep: async (ms: number) => { waits.push(ms) } }
}
