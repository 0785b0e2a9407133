import { describe, expect, it } from 'vitest'
import { leapMonthOf, lunarDayName, lunarMonthName } from '../src/lib/lunar'

describe('lunar calendar', () => {
  it('knows each year’s leap month (from lunar-python, the backend’s own tables)', () => {
    expect(leapMonthOf(1900)).toBe(8)
    expect(leapMonthOf(2020)).toBe(4)
    expect(leapMonthOf(2023)).toBe(2)
    expect(leapMonthOf(2025)).toBe(6)
    expect(leapMonthOf(2024)).toBe(0)
    expect(leapMonthOf(1899)).toBe(0)
    expect(leapMonthOf(2101)).toBe(0)
    expect(leapMonthOf(Number.NaN)).toBe(0)
  })

  it('names months and days the Chinese way', () => {
    expect(lunarMonthName(1, false)).toBe('正月')
    expect(lunarMonthName(2, true)).toBe('闰二月')
    expect(lunarMonthName(12, false)).toBe('腊月')
    expect([1, 10, 11, 20, 21, 30].map(lunarDayName)).toEqual(['初一', '初十', '十一', '二十', '廿一', '三十'])
  })
})
