import Taro from '@tarojs/taro'
import { useEffect, useState } from 'react'
import { FortuneApi } from '../lib/api'
import { History, RETENTION_DAYS } from '../lib/history'
import { detectLanguage, t } from '../lib/i18n'
import { ensureConsent } from '../lib/privacy'
import { Sessions, withSession } from '../lib/session'
import { Submitter } from '../lib/submit'
import { PrivacyGate, askWithPrivacy, type WxPrivacy } from '../lib/wxprivacy'
import type { FormState } from '../lib/form'
import type { Language, ProfileResponse } from '../lib/types'
import type { OpenStream } from '../lib/streaming'
import { eventStream } from './events'
import { taroStore } from './storage'
import { taroTransport } from './transport'

/** The app's singletons: the API client, this device's history, the one submitter. */

/**
 * The API's base URL: fixed at build time (TARO_APP_API_BASE, see config/index.ts). An H5 page may
 * set `window.CYBERFORTUNE_API_BASE` in its index.html to call an API on another origin (which
 * then needs FORTUNE_CORS_ORIGINS) without a rebuild.
 */
function apiBase(): string {
  if (process.env.TARO_ENV === 'h5' && typeof window !== 'undefined') {
    const configured = (window as unknown as { CYBERFORTUNE_API_BASE?: unknown }).CYBERFORTUNE_API_BASE
    if (typeof configured === 'string' && configured) return configured.replace(/\/+$/, '')
  }
  return API_BASE
}

/**
 * A fresh login code: `wx.login` in WeChat. The H5 build has no wx.login; a page may provide
 * `window.CYBERFORTUNE_WX_LOGIN` (a function resolving to a code: the browser tier's stand-in
 * backed by the fake WeChat server), else it gets an anonymous device session.
 */
async function loginCode(): Promise<string | undefined> {
  if (process.env.TARO_ENV === 'weapp') {
    const { code } = await Taro.login()
    return code
  }
  if (typeof window !== 'undefined') {
    const stub = (window as unknown as { CYBERFORTUNE_WX_LOGIN?: () => Promise<string> }).CYBERFORTUNE_WX_LOGIN
    if (typeof stub === 'function') return stub()
  }
  return undefined
}

export const sessions = new Sessions(apiBase(), taroTransport, taroStore, loginCode)
export const api = new FortuneApi(apiBase(), withSession(taroTransport, sessions))
/** A reading's event stream (`GET /v1/fortunes/{id}/events`), on this platform's transport, with the session. */
export const readingEvents = (id: string): OpenStream => eventStream(apiBase(), id, () => sessions.token())
export const history = new History(taroStore)
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
export const submitter = new Submitter({ api, store: taroStore, sleep })

const LANGUAGE_KEY = 'cf.language'
const FORM_KEY = 'cf.form'
const CHART_KEY = 'cf.chart'

function systemLanguage(): string {
  if (process.env.TARO_ENV === 'h5') return typeof navigator !== 'undefined' ? navigator.language : ''
  try {
    return Taro.getSystemInfoSync().language ?? ''
  } catch {
    return ''
  }
}

let language: Language = taroStore.get<Language>(LANGUAGE_KEY) ?? detectLanguage(systemLanguage())
const listeners = new Set<(lang: Language) => void>()
if (process.env.TARO_ENV === 'h5' && typeof document !== 'undefined') {
  document.documentElement.lang = language
}

export function currentLanguage(): Language {
  return language
}

/** Switch the interface language (remembered on this device); every mounted page follows. */
export function setLanguage(lang: Language): void {
  language = lang
  taroStore.set(LANGUAGE_KEY, lang)
  if (process.env.TARO_ENV === 'h5' && typeof document !== 'undefined') {
    document.documentElement.lang = lang
  }
  listeners.forEach((listener) => listener(lang))
}

/** The interface language, re-rendering the component when it is switched. */
export function useLanguage(): Language {
  const [lang, setLang] = useState(language)
  useEffect(() => {
    listeners.add(setLang)
    setLang(language)
    return () => {
      listeners.delete(setLang)
    }
  }, [])
  return lang
}

export function loadForm(): FormState | undefined {
  return taroStore.get<FormState>(FORM_KEY)
}

export function saveForm(form: FormState): void {
  taroStore.set(FORM_KEY, form)
}

/** The chart last derived, with the form it came from (the chart page reads it). */
export interface ChartState {
  form: FormState
  chart: ProfileResponse
}

export function loadChart(): ChartState | undefined {
  return taroStore.get<ChartState>(CHART_KEY)
}

export function saveChart(state: ChartState): void {
  taroStore.set(CHART_KEY, state)
}

/**
 * WeChat's privacy authorization (lib/wxprivacy.ts): the app's popup (components/PrivacyPopup)
 * answers `wx.onNeedPrivacyAuthorization`. Registered once at app start (src/app.ts) in the
 * WeChat build; Taro's weapp runtime carries every `wx` function, so a base library without the
 * privacy API simply has none of them, and the H5 build registers nothing.
 */
export const privacyGate = new PrivacyGate()

export function installPrivacyGate(): boolean {
  if (process.env.TARO_ENV !== 'weapp') return false
  return privacyGate.install(Taro as unknown as WxPrivacy)
}

/**
 * Consent before any personal data leaves the device: the notice (what is sent, kept, for how
 * long; a link to the privacy policy), once. In WeChat it is also WeChat's privacy
 * authorization: while WeChat still needs the user's agreement the notice is the privacy popup,
 * whose agree button gives both (one question, not two); otherwise the modal. Whether the caller
 * may send now.
 */
export async function askConsent(lang: Language): Promise<boolean> {
  return ensureConsent(taroStore, async () => {
    return askWithPrivacy(privacyGate, async () => {
      const { confirm } = await Taro.showModal({
        title: t(lang, 'consentTitle'),
        content: t(lang, 'consentBody', { days: RETENTION_DAYS }),
        confirmText: t(lang, 'consentAgree'),
        cancelText: t(lang, 'consentDecline'),
      })
      return confirm
    })
  })
}
