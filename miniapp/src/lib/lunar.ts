import { LEAP_MONTHS, LEAP_MONTH_FIRST_YEAR } from './generated/tables'

/** The leap month of a lunar year (0 when it has none or the year is outside 1900–2100). */
export function leapMonthOf(year: number): number {
  const index = year - LEAP_MONTH_FIRST_YEAR
  if (!Number.isInteger(year) || index < 0 || index >= LEAP_MONTHS.length) return 0
  return LEAP_MONTHS[index]
}

const MONTH_ZH = ['正', '二', '三', '四', '五', '六', '七', '八', '九', '十', '冬', '腊']
const DAY_TENS = ['初', '十', '廿', '三']
const DIGITS = ['', '一', '二', '三', '四', '五', '六', '七', '八', '九', '十']

/** 正月 … 腊月, with 闰 for a leap month. */
export function lunarMonthName(month: number, leap: boolean): string {
  return `${leap ? '闰' : ''}${MONTH_ZH[month - 1] ?? month}月`
}

/** 初一 … 三十. */
export function lunarDayName(day: number): string {
  if (day === 10) return '初十'
  if (day === 20) return '二十'
  if (day === 30) return '三十'
  return DAY_TENS[Math.floor(day / 10)] + DIGITS[day % 10]
}
