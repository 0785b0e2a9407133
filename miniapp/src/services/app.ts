import Taro from '@tarojs/taro'
import { useEffect, useState } from 'react'
import { FortuneApi } from '../lib/api'
import { History } from '../lib/history'
import { detectLanguage } from '../lib/i18n'
import { Submitter } from '../lib/submit'
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

export const api = new FortuneApi(apiBase(), taroTransport)
/** A reading's event stream (`GET /v1/fortunes/{id}/events`), on this platform's transport. */
export const readingEvents = (id: string): OpenStream => eventStream(apiBase(), id)
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
