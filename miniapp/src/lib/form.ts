import { CITIES, MANUAL_CITY, findCity } from './cities'
import { t } from './i18n'
import { leapMonthOf } from './lunar'
import type {
  Calendar,
  FieldMessage,
  FortuneRequestBody,
  Gender,
  Language,
  Period,
  ProfileInput,
  Topic,
} from './types'

/** What the input page holds: strings as typed, choices as chosen. */
export interface FormState {
  name: string
  gender: Gender
  calendar: Calendar
  birthDate: string
  leapMonth: boolean
  birthTime: string
  timeUnknown: boolean
  cityId: string
  timezone: string
  longitude: string
  trueSolarTime: boolean
  topic: Topic
  period: Period
  language: Language
}

/** The fields the page shows errors next to; `form` is for errors that belong to no field. */
export type FieldKey =
  | 'name'
  | 'gender'
  | 'birthDate'
  | 'birthTime'
  | 'timezone'
  | 'longitude'
  | 'topic'
  | 'period'
  | 'language'
  | 'form'

export type FieldErrors = Partial<Record<FieldKey, string>>

export const NAME_MAX_LENGTH = 32
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/
const TIME_RE = /^([01]\d|2[0-3]):[0-5]\d$/

export function defaultForm(language: Language): FormState {
  return {
    name: '',
    gender: 'unspecified',
    calendar: 'solar',
    birthDate: '',
    leapMonth: false,
    birthTime: '',
    timeUnknown: false,
    cityId: CITIES[0].id,
    timezone: CITIES[0].timezone,
    longitude: String(CITIES[0].longitude),
    trueSolarTime: false,
    topic: 'overall',
    period: 'day',
    language,
  }
}

/** Characters as a person counts them (and as the API does: code points, not UTF-16 units). */
export function nameLength(name: string): number {
  return Array.from(name.trim()).length
}

/** Lenient date typing: 1990/5/7, 1990.5.7 and 1990-5-7 all become 1990-05-07. */
export function normaliseDate(text: string): string {
  const match = /^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$/.exec(text)
  if (!match) return text.trim()
  return `${match[1]}-${match[2].padStart(2, '0')}-${match[3].padStart(2, '0')}`
}

/** Lenient time typing: 8:30, 08：30 and 0830 all become 08:30. */
export function normaliseTime(text: string): string {
  const match = /^\s*(\d{1,2})\s*[:：.]?\s*(\d{2})\s*$/.exec(text)
  if (!match) return text.trim()
  return `${match[1].padStart(2, '0')}:${match[2]}`
}

/** The leap month the chosen lunar year has (0: none, so no leap switch is shown). */
export function availableLeapMonth(form: FormState): number {
  if (form.calendar !== 'lunar') return 0
  const year = Number(normaliseDate(form.birthDate).slice(0, 4))
  return leapMonthOf(year)
}

/** Whether the leap switch applies: a lunar date in the year's leap month number. */
export function leapApplies(form: FormState): boolean {
  const leap = availableLeapMonth(form)
  if (!leap) return false
  const month = Number(normaliseDate(form.birthDate).slice(5, 7))
  return month === leap
}

/** The place the form describes: a listed city, or the manual time zone and longitude. */
function place(form: FormState): { timezone: string; longitude: number | undefined } {
  const city = form.cityId === MANUAL_CITY ? undefined : findCity(form.cityId)
  const timezone = city ? city.timezone : form.timezone.trim()
  const raw = city ? String(city.longitude) : form.longitude.trim()
  const longitude = form.trueSolarTime && raw !== '' ? Number(raw) : undefined
  return { timezone, longitude }
}

/** The API's `profile` object from the form (optional fields left out when empty). */
export function buildProfile(form: FormState): ProfileInput {
  const { timezone, longitude } = place(form)
  const profile: ProfileInput = {
    gender: form.gender,
    calendar: form.calendar,
    birthDate: normaliseDate(form.birthDate),
    timezone,
  }
  const name = form.name.trim()
  if (name) profile.name = name
  if (form.calendar === 'lunar' && form.leapMonth && leapApplies(form)) profile.leapMonth = true
  if (!form.timeUnknown && form.birthTime.trim()) profile.birthTime = normaliseTime(form.birthTime)
  if (longitude !== undefined && Number.isFinite(longitude)) profile.longitude = longitude
  return profile
}

/** The POST /v1/fortunes body. `date` is left out: the API takes today in the birth time zone. */
export function buildRequest(form: FormState): FortuneRequestBody {
  return {
    profile: buildProfile(form),
    topic: form.topic,
    period: form.period,
    language: form.language,
  }
}

/**
 * Checks the page can make before asking the API: only the shape of what was typed. Whether a
 * date exists, is in the future, or is a real lunar date is the API's answer (a 422 per field).
 */
export function checkForm(form: FormState, lang: Language): FieldErrors {
  const errors: FieldErrors = {}
  const date = normaliseDate(form.birthDate)
  if (!date) errors.birthDate = t(lang, 'errRequired')
  else if (!DATE_RE.test(date)) errors.birthDate = t(lang, 'errDateFormat')
  if (!form.timeUnknown && form.birthTime.trim() && !TIME_RE.test(normaliseTime(form.birthTime))) {
    errors.birthTime = t(lang, 'errTimeFormat')
  }
  if (nameLength(form.name) > NAME_MAX_LENGTH) {
    errors.name = t(lang, 'errNameLength', { max: NAME_MAX_LENGTH })
  }
  if (form.cityId === MANUAL_CITY) {
    if (!form.timezone.trim()) errors.timezone = t(lang, 'errTimezone')
    const raw = form.longitude.trim()
    if (raw !== '') {
      const value = Number(raw)
      if (!Number.isFinite(value) || value < -180 || value > 180) {
        errors.longitude = t(lang, 'errLongitude')
      }
    }
  }
  return errors
}

/** API field path → the form field it is shown next to. */
const FIELD_OF_PATH: Record<string, FieldKey> = {
  'profile.name': 'name',
  'profile.gender': 'gender',
  'profile.birthDate': 'birthDate',
  'profile.calendar': 'birthDate',
  'profile.leapMonth': 'birthDate',
  'profile.birthTime': 'birthTime',
  'profile.timezone': 'timezone',
  'profile.longitude': 'longitude',
  topic: 'topic',
  period: 'period',
  language: 'language',
}

/**
 * A 422's `fields` ({path: {en, zh}}) as errors next to the form's fields, in the user's
 * language. A path the form has no field for (`date`, `body`) is shown at the top of the form;
 * a time zone or longitude error with a listed city selected is shown under the place.
 */
export function mapFieldErrors(fields: Record<string, FieldMessage>, lang: Language): FieldErrors {
  const errors: FieldErrors = {}
  for (const [path, message] of Object.entries(fields)) {
    const key = FIELD_OF_PATH[path] ?? 'form'
    const text = lang === 'zh-CN' ? message.zh || message.en : message.en || message.zh
    const separator = lang === 'zh-CN' ? '；' : '; '
    errors[key] = errors[key] ? `${errors[key]}${separator}${text}` : text
  }
  return errors
}

/** Where the page scrolls to first: the first field with an error, in page order. */
export const FIELD_ORDER: readonly FieldKey[] = [
  'form', 'name', 'gender', 'birthDate', 'birthTime', 'timezone', 'longitude', 'topic', 'period',
  'language',
]

export function firstErrorField(errors: FieldErrors): FieldKey | undefined {
  return FIELD_ORDER.find((key) => errors[key])
}
