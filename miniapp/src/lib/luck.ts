/** The luck pillars (大运) and annual pillars (流年) as the chart page lays them out. */
import { t } from './i18n'
import type { DaYun, Language, LuckAt, LuckPillar, YearLuck } from './types'

export interface TimelineStep {
  /** 'childhood' for 童限, else the pillar */
  pillar: LuckPillar | null
  startYear: number
  startAge: number
  endAge: number
  current: boolean
}

export interface Timeline {
  /** 童限, the span before the first pillar (null when luck starts within the birth year) */
  childhood: TimelineStep | null
  pillars: TimelineStep[]
}

/** 童限 and the luck pillars in order, the one containing the luck's date marked current. */
export function luckTimeline(daYun: DaYun, luck?: LuckAt): Timeline {
  const current = luck?.daYun?.index
  const childhood: TimelineStep = {
    pillar: null,
    startYear: daYun.childhood.startYear,
    startAge: daYun.childhood.startAge,
    endAge: daYun.childhood.endAge,
    current: luck !== undefined && luck.inChildhood,
  }
  const steps = daYun.pillars.map((pillar) => ({
    pillar,
    startYear: pillar.startYear,
    startAge: pillar.startAge,
    endAge: pillar.endAge,
    current: pillar.index === current,
  }))
  // a 起运 within the birth year leaves no 童限 span to show
  return { childhood: childhood.endAge >= childhood.startAge ? childhood : null, pillars: steps }
}

/** "起运：8年0个月20天 · 1989-02-18 交运（逆排）" / "Luck starts at 8 y 0 m 20 d, on 1989-02-18 (backward)". */
export function qiYunText(daYun: DaYun, lang: Language): string {
  const { years, months, days, startDate } = daYun.start
  const when = startDate.length > 10 ? `${startDate.slice(0, 10)} ${startDate.slice(11, 16)}` : startDate
  return t(lang, 'luckStart', {
    years,
    months,
    days,
    date: when,
    direction: t(lang, daYun.forward ? 'luckForward' : 'luckBackward'),
  })
}

/** The 流年 row: the current year and the ones after it. */
export function annualPillars(luck: LuckAt | undefined): YearLuck[] {
  return luck?.liuNian ?? []
}
