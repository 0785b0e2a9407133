import Taro from '@tarojs/taro'
import type { FortuneRequestBody } from '../lib/types'
import { history, submitter } from './app'

/** Start a new reading for `request` (a fresh key: asking again is a new request) and go wait. */
export async function askAgain(request: FortuneRequestBody): Promise<void> {
  submitter.forget()
  const body: FortuneRequestBody = { ...request }
  delete body.date // a new reading is for today
  const previous = history.list().find((entry) => entry.request.profile.birthDate === body.profile.birthDate && entry.pillars)
  const accepted = await submitter.submit(body)
  history.setPending({ id: accepted.id, createdAt: Date.now(), request: body, retryAfter: accepted.retryAfter })
  history.upsert({ id: accepted.id, request: body, status: accepted.status, pillars: previous?.pillars })
  const wait = accepted.retryAfter !== undefined ? `&wait=${accepted.retryAfter}` : ''
  await Taro.redirectTo({ url: `/pages/waiting/index?id=${accepted.id}${wait}` })
}
