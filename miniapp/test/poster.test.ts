import { describe, expect, it } from 'vitest'
import { POSTER_HEIGHT, POSTER_WIDTH, drawPoster, radarPoints, seededRandom, wrapText, type Ctx2D, type PosterData } from '../src/lib/poster'

/** Measures a character as `size` px (CJK) or half of it (Latin), like a real font roughly does. */
function measure(text: string, size = 10): number {
  return Array.from(text).reduce((width, ch) => width + (/[\u3000-\u9fff\uff00-\uffef]/.test(ch) ? size : size / 2), 0)
}

/** A 2D context that records what is drawn. */
class RecordingContext {
  fillStyle: unknown = '#000'
  strokeStyle: unknown = '#000'
  lineWidth = 1
  font = '10px sans-serif'
  textAlign = 'left'
  textBaseline = 'alphabetic'
  globalAlpha = 1
  lineCap = 'butt'
  texts: { text: string; x: number; y: number; font: string }[] = []
  rects = 0
  arcs = 0
  fillRect() { this.rects += 1 }
  beginPath() {}
  moveTo() {}
  lineTo() {}
  closePath() {}
  fill() {}
  stroke() {}
  arc() { this.arcs += 1 }
  save() {}
  restore() {}
  fillText(text: string, x: number, y: number) { this.texts.push({ text, x, y, font: this.font }) }
  measureText(text: string) {
    const size = Number(/(\d+)px/.exec(this.font)?.[1] ?? 10)
    return { width: measure(text, size) }
  }
  createLinearGradient() { return { addColorStop() {} } }
}

const DATA: PosterData = {
  appName: '赛博运势',
  appNameAlt: 'CyberFortune',
  title: '今日综合运势',
  name: '小满',
  dateText: '2026年11月25日',
  pillars: [
    { label: '年柱', stem: '庚', branch: '午', stemElement: 'metal', branchElement: 'fire' },
    { label: '月柱', stem: '辛', branch: '巳', stemElement: 'metal', branchElement: 'fire' },
    { label: '日柱', stem: '壬', branch: '午', stemElement: 'water', branchElement: 'fire' },
    { label: '时柱', stem: '甲', branch: '辰', stemElement: 'wood', branchElement: 'earth' },
  ],
  overall: 78,
  overallLabel: '综合指数',
  band: '顺遂',
  summary: '今天日主得令，贵人运旺，适合主动沟通、推进计划；午后精力稍弱，宜放慢节奏，留意饮食与休息。'.repeat(3),
  scores: [
    { label: '事业', value: 80 },
    { label: '感情', value: 66 },
    { label: '财运', value: 72 },
    { label: '健康', value: 58 },
    { label: '学业', value: 90 },
  ],
  lucky: '幸运色 金色 · 数字 7 · 方位 东南',
  footer: '生辰为据 · AI 解读 · 仅供娱乐',
  seed: '01KAXYZ',
}

describe('wrapText', () => {
  it('breaks Chinese anywhere and Latin text at spaces', () => {
    expect(wrapText((s) => measure(s), '一二三四五六七八九十', 40, 5)).toEqual(['一二三四', '五六七八', '九十'])
    expect(wrapText((s) => measure(s), 'lucky day for a bold move', 70, 5)).toEqual(['lucky day for', 'a bold move'])
  })

  it('ends a cut text with an ellipsis that fits', () => {
    const lines = wrapText((s) => measure(s), '一二三四五六七八九十', 40, 2)
    expect(lines).toEqual(['一二三四', '五六七…'])
    expect(measure(lines[1])).toBeLessThanOrEqual(40)
  })
})

describe('radarPoints', () => {
  it('puts the first axis straight up and scales by the value', () => {
    const [top, right] = radarPoints([100, 50, 0, 0], 100, 100, 40)
    expect(top[0]).toBeCloseTo(100)
    expect(top[1]).toBeCloseTo(60)
    expect(right[0]).toBeCloseTo(120)
    expect(right[1]).toBeCloseTo(100)
    const [clamped] = radarPoints([150], 0, 0, 10)
    expect(clamped[1]).toBeCloseTo(-10)
  })
})

describe('drawPoster', () => {
  it('draws the name, title, pillars, score, summary, lucky items and app name inside the frame', () => {
    const ctx = new RecordingContext()
    drawPoster(ctx as unknown as Ctx2D, DATA)
    const all = ctx.texts.map((t) => t.text).join('\n')
    for (const expected of ['赛博运势', 'CyberFortune', '小满 · 今日综合运势', '2026年11月25日', '庚', '午', '甲', '辰', '78', '综合指数', '顺遂', '幸运色 金色', '学业 90']) {
      expect(all).toContain(expected)
    }
    expect(all).toContain('今天日主得令')
    expect(all).toMatch(/…/) // the long summary was cut, not overflowed
    for (const text of ctx.texts) {
      expect(text.x).toBeGreaterThanOrEqual(0)
      expect(text.x).toBeLessThanOrEqual(POSTER_WIDTH)
      expect(text.y).toBeGreaterThan(0)
      expect(text.y).toBeLessThanOrEqual(POSTER_HEIGHT)
    }
    expect(ctx.arcs).toBeGreaterThan(70) // stars, ring, corners
  })

  it('draws a reading without the hour pillar or a name', () => {
    const ctx = new RecordingContext()
    drawPoster(ctx as unknown as Ctx2D, { ...DATA, name: undefined, pillars: DATA.pillars.slice(0, 3) })
    const all = ctx.texts.map((t) => t.text)
    expect(all).toContain('今日综合运势')
    expect(all).not.toContain('时柱')
  })

  it('gives one reading always the same stars', () => {
    const a = seededRandom('01KAXYZ')
    const b = seededRandom('01KAXYZ')
    const c = seededRandom('01KAXZZ')
    const first = [a(), a(), a()]
    expect([b(), b(), b()]).toEqual(first)
    expect([c(), c(), c()]).not.toEqual(first)
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true)
  })
})

describe('line breaking', () => {
  it('never starts a line with closing punctuation', () => {
    const lines = wrapText((s) => measure(s), '一二三四，五六七八。', 40, 5)
    expect(lines).toEqual(['一二三四，', '五六七八。'])
  })
})
