import {
  ALMANAC_TERM_EN,
  BRANCH_PINYIN,
  DIRECTION_EN,
  ELEMENT_ZH,
  SOLAR_TERM_EN,
  STEM_PINYIN,
  TEN_GOD_EN,
  TIAN_SHEN_EN,
  ZHI_XING_EN,
} from './generated/tables'
import { t, type MessageKey } from './i18n'
import type { Element, Language, Period, Topic } from './types'

const ELEMENT_EN: Record<Element, string> = {
  wood: 'Wood', fire: 'Fire', earth: 'Earth', metal: 'Metal', water: 'Water',
}

/** Colours of the five elements, shared by the pages and the poster. */
export const ELEMENT_COLOR: Record<Element, string> = {
  wood: '#46c289',
  fire: '#f0665a',
  earth: '#d9a84e',
  metal: '#c7d0de',
  water: '#5aa2f5',
}

const STEM_ELEMENT: Record<string, Element> = {
  甲: 'wood', 乙: 'wood', 丙: 'fire', 丁: 'fire', 戊: 'earth', 己: 'earth', 庚: 'metal', 辛: 'metal',
  壬: 'water', 癸: 'water',
}

export function elementOfStem(stem: string): Element | undefined {
  return STEM_ELEMENT[stem]
}

const BRANCH_ELEMENT: Record<string, Element> = {
  子: 'water', 丑: 'earth', 寅: 'wood', 卯: 'wood', 辰: 'earth', 巳: 'fire', 午: 'fire', 未: 'earth',
  申: 'metal', 酉: 'metal', 戌: 'earth', 亥: 'water',
}

export function elementOfBranch(branch: string): Element | undefined {
  return BRANCH_ELEMENT[branch]
}

const PHASE_EN: Record<string, string> = {
  长生: 'Growth', 沐浴: 'Bath', 冠带: 'Crown', 临官: 'Office', 帝旺: 'Peak', 衰: 'Decline',
  病: 'Sickness', 死: 'Death', 墓: 'Tomb', 绝: 'Void', 胎: 'Conception', 养: 'Nurture',
}

/** A growth phase (十二长生, 星运/自坐) in the reader's language. */
export function phaseName(phase: string, lang: Language): string {
  return lang === 'zh-CN' ? phase : PHASE_EN[phase] ?? phase
}

export function elementName(element: Element, lang: Language): string {
  return lang === 'zh-CN' ? ELEMENT_ZH[element] : ELEMENT_EN[element]
}

/** 庚 → "Geng" in English (the character itself in Chinese). */
export function romanise(character: string): string {
  return STEM_PINYIN[character] ?? BRANCH_PINYIN[character] ?? character
}

/** 庚午 → "Geng Wu". */
export function romaniseGanzhi(ganzhi: string): string {
  return Array.from(ganzhi).map(romanise).join(' ')
}

export function tenGodName(tenGod: string, lang: Language): string {
  return lang === 'zh-CN' ? tenGod : TEN_GOD_EN[tenGod] ?? tenGod
}

/** 路旁土 → "路旁土 (Earth)" in English: the Na Yin's element is its last character. */
export function naYinName(naYin: string, lang: Language): string {
  if (lang === 'zh-CN') return naYin
  const last = Array.from(naYin).pop() ?? ''
  const element = (Object.keys(ELEMENT_ZH) as Element[]).find((key) => ELEMENT_ZH[key] === last)
  return element ? `${naYin} (${ELEMENT_EN[element]})` : naYin
}

/** An almanac activity (宜/忌) as a modern phrase in English, the term itself in Chinese. */
export function almanacTerm(term: string, lang: Language): string {
  return lang === 'zh-CN' ? term : ALMANAC_TERM_EN[term] ?? term
}

export function directionName(zh: string, lang: Language): string {
  return lang === 'zh-CN' ? zh : DIRECTION_EN[zh] ?? zh
}

export function tianShenName(name: string, lang: Language): string {
  return lang === 'zh-CN' ? name : TIAN_SHEN_EN[name] ?? name
}

export function zhiXingName(name: string, lang: Language): string {
  return lang === 'zh-CN' ? name : ZHI_XING_EN[name] ?? name
}

export function solarTermName(name: string, lang: Language): string {
  return lang === 'zh-CN' ? name : SOLAR_TERM_EN[name] ?? name
}

/** 吉/凶 of the day's spirit. */
export function luckName(luck: string, lang: Language): string {
  if (lang === 'zh-CN') return luck
  return luck === '吉' ? 'auspicious' : luck === '凶' ? 'inauspicious' : luck
}

export function topicName(topic: Topic, lang: Language): string {
  return t(lang, `topic_${topic}` as MessageKey)
}

export function periodName(period: Period, lang: Language): string {
  return t(lang, `period_${period}` as MessageKey)
}

/** The reading's title: 今日综合运势 / Overall fortune, today. */
export function readingTitle(topic: Topic, period: Period, lang: Language): string {
  const periodText = periodName(period, lang)
  return t(lang, 'resultTitle', {
    topic: topicName(topic, lang),
    period: lang === 'zh-CN' ? periodText : periodText.toLowerCase(),
  })
}

const BANDS: ReadonlyArray<[number, MessageKey]> = [
  [82, 'band_excellent'],
  [70, 'band_good'],
  [58, 'band_steady'],
  [46, 'band_mixed'],
  [0, 'band_low'],
]

/** A word for a 0–100 score (the same bands as the almanac engine). */
export function scoreBand(score: number, lang: Language): string {
  const key = BANDS.find(([floor]) => score >= floor)?.[1] ?? 'band_low'
  return t(lang, key)
}

const MONTHS_EN = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
  'September', 'October', 'November', 'December']

/** 2026-11-25 → 2026年11月25日 / 25 November 2026. */
export function formatDate(iso: string, lang: Language): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso)
  if (!match) return iso
  const [, y, m, d] = match
  if (lang === 'zh-CN') return `${Number(y)}年${Number(m)}月${Number(d)}日`
  return `${Number(d)} ${MONTHS_EN[Number(m) - 1]} ${y}`
}

/** A date as YYYY-MM-DD in local time. */
export function isoDay(ms: number): string {
  const date = new Date(ms)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`
}

/** Readable provider name: almanac → 黄历引擎 / the almanac engine; otherwise the model. */
export function providerName(provider: string, model: string, lang: Language): string {
  if (provider === 'almanac') return lang === 'zh-CN' ? '离线黄历引擎' : 'the offline almanac engine'
  return model || provider
}
