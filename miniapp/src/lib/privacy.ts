import type { FortuneApi } from './api'
import type { Sessions } from './session'
import type { KeyValueStore } from './storage'

/**
 * Privacy by design (docs/miniapp.md, "Privacy"): a birth date, time and place are personal data.
 * Nothing that carries them (a chart, a reading, a login) leaves the device before the user has
 * read the notice and agreed (`consented`); "delete my data" removes everything this app keeps,
 * on the device and, for a logged-in user, on the server.
 */

export const CONSENT_KEY = 'cf.consent'
/** Bumped when the notice changes in substance: everyone is asked again. */
export const CONSENT_VERSION = 1

/** Every key this app writes to the device's storage. */
export const LOCAL_KEYS = [
  'cf.history',
  'cf.pending',
  'cf.submission',
  'cf.form',
  'cf.chart',
  'cf.session',
  CONSENT_KEY,
] as const

interface Consent {
  version: number
  at: number
}

export function consented(store: KeyValueStore): boolean {
  return store.get<Consent>(CONSENT_KEY)?.version === CONSENT_VERSION
}

export function recordConsent(store: KeyValueStore, now: number = Date.now()): void {
  store.set<Consent>(CONSENT_KEY, { version: CONSENT_VERSION, at: now })
}

/**
 * Ask for consent unless it was given (`ask` shows the notice and answers the user's choice);
 * whether personal data may be sent now.
 */
export async function ensureConsent(store: KeyValueStore, ask: () => Promise<boolean>): Promise<boolean> {
  if (consented(store)) return true
  if (!(await ask())) return false
  recordConsent(store)
  return true
}

export interface Deleted {
  /** readings deleted on the server (0 when not logged in) */
  server: number
  local: number
}

/**
 * "Delete my data": the server's records of this user (when there is a session: records, status
 * cache, shares, events; `DELETE /v1/fortunes`), then every local key, the session and the
 * consent included. A server failure leaves the local data alone and throws, so the user can
 * retry and is never told something was deleted that was not.
 */
export async function deleteMyData(
  store: KeyValueStore,
  api: FortuneApi,
  sessions: Sessions,
): Promise<Deleted> {
  const server = sessions.current() ? await api.deleteAll() : 0
  let local = 0
  for (const key of LOCAL_KEYS) {
    if (store.get(key) !== undefined) local += 1
    store.remove(key)
  }
  sessions.forget()
  return { server, local }
}
