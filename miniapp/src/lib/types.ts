/** The HTTP API's shapes (docs/api.md, docs/domain.md), as the client uses them. */

export type Language = 'zh-CN' | 'en'
export type Topic = 'overall' | 'career' | 'love' | 'wealth' | 'health' | 'study'
export type Period = 'day' | 'week' | 'month' | 'year'
export type Gender = 'male' | 'female' | 'unspecified'
export type Calendar = 'solar' | 'lunar'
export type Status = 'pending' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'
export type Element = 'wood' | 'fire' | 'earth' | 'metal' | 'water'
export type Aspect = 'career' | 'love' | 'wealth' | 'health' | 'study'

export const TOPICS: readonly Topic[] = ['overall', 'career', 'love', 'wealth', 'health', 'study']
export const PERIODS: readonly Period[] = ['day', 'week', 'month', 'year']
export const ASPECTS: readonly Aspect[] = ['career', 'love', 'wealth', 'health', 'study']
export const ELEMENTS: readonly Element[] = ['wood', 'fire', 'earth', 'metal', 'water']
export const TERMINAL: readonly Status[] = ['succeeded', 'failed', 'cancelled']

export interface ProfileInput {
  name?: string
  gender: Gender
  calendar: Calendar
  leapMonth?: boolean
  birthDate: string
  birthTime?: string
  timezone: string
  longitude?: number
}

export interface FortuneRequestBody {
  profile: ProfileInput
  topic: Topic
  period: Period
  date?: string
  language: Language
}

/** A field message as the API gives it: both languages. */
export interface FieldMessage {
  en: string
  zh: string
}

export interface Pillar {
  ganzhi: string
  stem: string
  branch: string
  stemElement: Element
  branchElement: Element
  hiddenStems: string[]
  tenGod: string | null
  hiddenTenGods: string[]
  naYin: string
  kongWang: string
  /** 星运: the day master's phase (十二长生) at this branch */
  xingYun?: string | null
  /** 自坐: this pillar's own stem's phase at its branch */
  ziZuo?: string | null
}

/** One 大运 pillar (docs/domain.md). */
export interface LuckPillar {
  index: number
  ganzhi: string
  startYear: number
  endYear: number
  startAge: number
  endAge: number
  startDate: string
  tenGod: string
  branchTenGod: string
  naYin: string
  xingYun: string
}

export interface DaYun {
  convention: 'minutes' | 'days'
  forward: boolean
  start: {
    years: number
    months: number
    days: number
    hours: number
    startDate: string
    term: { name: string; instant: string }
    intervalMinutes: number
  }
  childhood: { startYear: number; endYear: number; startAge: number; endAge: number }
  pillars: LuckPillar[]
  exact: boolean
}

export interface Palace {
  ganzhi: string
  naYin: string
}

export interface Star {
  name: string
  nameEn: string
  basis: string
  branch: string
  pillars: string[]
}

export interface Relation {
  kind: string
  name: string
  pillars: string[]
  chars: string
  element: Element | null
}

export interface BoundaryWarning {
  kind: 'solar-term' | 'zi-hour' | 'midnight'
  boundary: string
  term: string | null
  minutes: number
  changes: { what: string; actual: string; other: string }[]
  note: string
}

/** One 流年. */
export interface YearLuck {
  year: number
  ganzhi: string
  startDate: string
  age: number
  tenGod: string
  branchTenGod: string
  naYin: string
  daYun: string | null
  xiaoYun: string | null
  current: boolean
}

/** The luck of the profile route's date (docs/api.md). */
export interface LuckAt {
  date: string
  age: number
  daYun: LuckPillar | null
  inChildhood: boolean
  liuNian: YearLuck[]
  liuYue: { ganzhi: string; term: string; startDate: string; tenGod: string; current: boolean }[]
  xiaoYun: string | null
  relations: Relation[]
}

export interface DerivedProfile {
  name?: string | null
  gender: Gender
  solarDate: string
  lunar: { year: number; month: number; day: number; leapMonth: boolean; text: string }
  zodiac: { zh: string; en: string }
  constellation: { zh: string; en: string }
  bazi: { year: string; month: string; day: string; hour: string | null }
  pillars: { year: Pillar; month: Pillar; day: Pillar; hour: Pillar | null }
  fiveElements: Record<Element, number>
  fiveElementsWeighted: Record<Element, number>
  dayMaster: string
  dayMasterElement: Element
  dayMasterYinYang: 'yin' | 'yang'
  strength: { level: 'strong' | 'balanced' | 'weak'; ratio: number; season: string }
  favourableElements: Element[]
  unfavourableElements: Element[]
  notes: string[]
  // the professional chart (absent in a chart kept from before they were derived)
  palaces?: { taiYuan: Palace; taiXi: Palace; mingGong: Palace | null; shenGong: Palace | null } | null
  daYun?: DaYun | null
  relations?: Relation[]
  shenSha?: { school: string; stars: Star[] } | null
  boundaries?: BoundaryWarning[]
}

export interface Almanac {
  date: string
  weekday: number
  lunar: { year: number; month: number; day: number; leapMonth: boolean; text: string }
  yearGanzhi: string
  monthGanzhi: string
  dayGanzhi: string
  solarTerm: string | null
  yi: string[]
  ji: string[]
  chong: string
  chongZodiac: string
  sha: string
  xiShen: { zh: string; en: string }
  caiShen: { zh: string; en: string }
  fuShen: { zh: string; en: string }
  zhiXing: string
  tianShen: string
  tianShenLuck: string
  pengZu: string[]
}

export interface ProfileResponse {
  profile: DerivedProfile
  /** absent in a chart kept from before the API returned it */
  luck?: LuckAt
  almanac: Almanac
}

export interface Scores {
  overall: number
  career: number
  love: number
  wealth: number
  health: number
  study: number
}

export interface FortuneResult {
  summary: string
  scores: Scores
  aspects: Record<Aspect, string>
  lucky: { color: string; number: number; direction: string }
  advice: { do: string[]; avoid: string[] }
  text: string
  provider: string
  model: string
}

export interface FortuneView {
  id: string
  status: Status
  attempts: number
  createdAt?: string
  updatedAt?: string
  completedAt?: string
  message?: string
  request: FortuneRequestBody
  result?: FortuneResult
  error?: { code: string; message: string }
}

export interface Accepted {
  id: string
  status: Status
  /** the request was a replay of an earlier one with the same Idempotency-Key */
  replayed: boolean
  /** seconds the server asks the client to wait before the first poll */
  retryAfter?: number
}

/** One answer to GET /v1/fortunes/{id}. */
export interface Polled {
  view: FortuneView
  /** seconds the server asks to wait before asking again (while in flight) */
  retryAfter?: number
  /** the server held the answer for a long poll (so asking again at once is right) */
  waited?: boolean
}

/** One entry of `GET /v1/fortunes` (the caller's own readings, from the server). */
export interface HistoryItem {
  id: string
  status: Status
  createdAt: string
  completedAt?: string
  topic?: Topic | null
  period?: Period | null
  date?: string | null
  language?: Language | null
  summary?: string
  overall?: number
}

export interface HistoryPage {
  items: HistoryItem[]
  next: string | null
}

/** `GET /v1/shared/{token}`: a shared reading without the name, birth data or place. */
export interface SharedReading {
  topic?: Topic | null
  period?: Period | null
  date?: string | null
  language: Language
  result: Partial<FortuneResult>
  pillars: Record<string, string>
}
