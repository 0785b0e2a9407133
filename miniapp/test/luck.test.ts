import { describe, expect, it } from 'vitest'
import { annualPillars, luckTimeline, qiYunText } from '../src/lib/luck'
import type { DaYun, LuckAt, LuckPillar } from '../src/lib/types'

// The 1981-01-29 23:37 female of lunar-python's YunTest.test (days convention): 起运 8 years
// 0 months 20 days, 1989-02-18, backward from 己丑: 戊子, 丁亥, 丙戌 …
function pillar(index: number, ganzhi: string): LuckPillar {
  const startYear = 1979 + 10 * index
  return {
    index, ganzhi, startYear, endYear: startYear + 9, startAge: startYear - 1980, endAge: startYear - 1971,
    startDate: `${startYear}-02-18`, tenGod: '比肩', branchTenGod: '正财', naYin: '霹雳火', xingYun: '胎',
  }
}

const DA_YUN: DaYun = {
  convention: 'days',
  forward: false,
  start: {
    years: 8, months: 0, days: 20, hours: 0, startDate: '1989-02-18',
    term: { name: '小寒', instant: '1981-01-05T18:12:38+08:00' }, intervalMinutes: 34885,
  },
  childhood: { startYear: 1981, endYear: 1988, startAge: 1, endAge: 8 },
  pillars: [pillar(1, '戊子'), pillar(2, '丁亥'), pillar(3, '丙戌')],
  exact: true,
}

function luckOn(index: number | null): LuckAt {
  return {
    date: '2000-06-01', age: 20, daYun: index === null ? null : DA_YUN.pillars[index - 1],
    inChildhood: index === null, liuNian: [], liuYue: [], xiaoYun: null, relations: [],
  }
}

describe('the luck timeline', () => {
  it('starts with the childhood span and marks the pillar containing the date', () => {
    const { childhood, pillars } = luckTimeline(DA_YUN, luckOn(2))
    expect(childhood).toMatchObject({ pillar: null, startYear: 1981, startAge: 1, endAge: 8, current: false })
    expect(pillars.map((s) => s.pillar?.ganzhi)).toEqual(['戊子', '丁亥', '丙戌'])
    expect(pillars.map((s) => [s.startAge, s.endAge])).toEqual([[9, 18], [19, 28], [29, 38]])
    expect(pillars.filter((s) => s.current).map((s) => s.pillar?.ganzhi)).toEqual(['丁亥'])
  })

  it('marks the childhood span before the first handover, and nothing without a date', () => {
    const before = luckTimeline(DA_YUN, luckOn(null))
    expect(before.childhood?.current).toBe(true)
    expect(before.pillars.some((s) => s.current)).toBe(false)
    const undated = luckTimeline(DA_YUN)
    expect(undated.childhood?.current || undated.pillars.some((s) => s.current)).toBe(false)
  })

  it('leaves out a childhood span shorter than a year', () => {
    // YunTest.test2: 起运 0 years 1 month: the first pillar starts in the birth year
    const early: DaYun = { ...DA_YUN, childhood: { startYear: 2020, endYear: 2019, startAge: 1, endAge: 0 } }
    expect(luckTimeline(early).childhood).toBeNull()
    expect(luckTimeline(early).pillars[0].pillar?.ganzhi).toBe('戊子')
  })
})

describe('the 起运 line', () => {
  it('says the interval, the handover and the direction in both languages', () => {
    expect(qiYunText(DA_YUN, 'zh-CN')).toBe('起运：8年0个月20天 · 1989-02-18 交运（逆排）')
    expect(qiYunText(DA_YUN, 'en')).toBe('Luck starts at 8 y 0 m 20 d, on 1989-02-18 (backward)')
  })

  it('gives the handover time under the minutes convention', () => {
    // YunTest.test5: 8 years 9 months 2 days, 2030-12-12 (forward)
    const minutes: DaYun = {
      ...DA_YUN, convention: 'minutes', forward: true,
      start: { ...DA_YUN.start, years: 8, months: 9, days: 2, hours: 10, startDate: '2030-12-12T06:51:00+08:00' },
    }
    expect(qiYunText(minutes, 'zh-CN')).toBe('起运：8年9个月2天 · 2030-12-12 06:51 交运（顺排）')
  })

  it('lists no annual pillars for a chart kept from before the luck was returned', () => {
    expect(annualPillars(undefined)).toEqual([])
  })
})
