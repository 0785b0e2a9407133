import { ELEMENT_COLOR } from './format'
import type { Element } from './types'

/**
 * The share poster, drawn with the standard Canvas 2D API, which both WeChat's `type="2d"`
 * canvas and the browser's <canvas> give. Everything is laid out in a 375 × 667 logical frame;
 * the caller scales the context (×2 gives a 750 × 1334 picture).
 */

export const POSTER_WIDTH = 375
export const POSTER_HEIGHT = 667

/** The part of CanvasRenderingContext2D the poster uses. */
export type Ctx2D = Pick<
  CanvasRenderingContext2D,
  | 'fillStyle' | 'strokeStyle' | 'lineWidth' | 'font' | 'textAlign' | 'textBaseline' | 'globalAlpha'
  | 'lineCap' | 'fillRect' | 'beginPath' | 'moveTo' | 'lineTo' | 'closePath' | 'fill' | 'stroke'
  | 'arc' | 'fillText' | 'measureText' | 'createLinearGradient' | 'save' | 'restore'
>

export interface PosterPillar {
  label: string
  stem: string
  branch: string
  stemElement: Element
  branchElement: Element
}

export interface PosterData {
  appName: string
  appNameAlt: string
  title: string
  name?: string
  dateText: string
  pillars: PosterPillar[]
  overall: number
  overallLabel: string
  band: string
  summary: string
  scores: { label: string; value: number }[]
  lucky: string
  footer: string
  /** seeds the background stars, so one reading always gives the same picture */
  seed: string
}

export const FONT_FAMILY = '"PingFang SC", "Hiragino Sans GB", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif'

function font(size: number, weight = 'normal'): string {
  return `${weight} ${size}px ${FONT_FAMILY}`
}

/** A small deterministic PRNG (mulberry32) seeded from a string. */
export function seededRandom(seed: string): () => number {
  let h = 1779033703
  for (let i = 0; i < seed.length; i += 1) h = Math.imul(h ^ seed.charCodeAt(i), 3432918353)
  let state = h >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const CLOSING = /^[，。、；：！？）》」』”’,.;:!?)]/

/**
 * Break `text` into lines no wider than `maxWidth`, at most `maxLines` (the last one ends with
 * … when cut). Chinese breaks anywhere; Latin text breaks at spaces where it can.
 */
export function wrapText(
  measure: (text: string) => number,
  text: string,
  maxWidth: number,
  maxLines: number,
): string[] {
  const lines: string[] = []
  const tokens = text.replace(/\s+/g, ' ').trim().match(/[A-Za-z0-9'’,.;:!?()%-]+ ?|./gu) ?? []
  let line = ''
  for (const token of tokens) {
    const candidate = line + token
    // closing punctuation never starts a line (it hangs at the end of the previous one)
    const hangs = CLOSING.test(token) && line !== '' && lines.length + 1 <= maxLines
    if (measure(candidate.trimEnd()) <= maxWidth || line === '' || hangs) {
      line = candidate
      continue
    }
    lines.push(line.trimEnd())
    line = token.trimStart()
    if (lines.length === maxLines) break
  }
  if (lines.length < maxLines && line) lines.push(line.trimEnd())
  const used = lines.join('').replace(/\s/g, '').length
  if (used < text.replace(/\s/g, '').length && lines.length) {
    let last = lines[lines.length - 1]
    while (last && measure(`${last}…`) > maxWidth) last = Array.from(last).slice(0, -1).join('')
    lines[lines.length - 1] = `${last.trimEnd()}…`
  }
  return lines
}

/** Corner points of a radar chart: one axis per value (0–100), the first straight up. */
export function radarPoints(values: number[], cx: number, cy: number, radius: number): [number, number][] {
  return values.map((value, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / values.length
    const r = (radius * Math.max(0, Math.min(100, value))) / 100
    return [cx + r * Math.cos(angle), cy + r * Math.sin(angle)]
  })
}

function roundRect(ctx: Ctx2D, x: number, y: number, w: number, h: number, r: number): void {
  ctx.beginPath()
  ctx.moveTo(x + r, y)
  ctx.lineTo(x + w - r, y)
  ctx.arc(x + w - r, y + r, r, -Math.PI / 2, 0)
  ctx.lineTo(x + w, y + h - r)
  ctx.arc(x + w - r, y + h - r, r, 0, Math.PI / 2)
  ctx.lineTo(x + r, y + h)
  ctx.arc(x + r, y + h - r, r, Math.PI / 2, Math.PI)
  ctx.lineTo(x, y + r)
  ctx.arc(x + r, y + r, r, Math.PI, Math.PI * 1.5)
  ctx.closePath()
}

function background(ctx: Ctx2D, data: PosterData): void {
  const sky = ctx.createLinearGradient(0, 0, 0, POSTER_HEIGHT)
  sky.addColorStop(0, '#231544')
  sky.addColorStop(0.55, '#141a3c')
  sky.addColorStop(1, '#0b1028')
  ctx.fillStyle = sky
  ctx.fillRect(0, 0, POSTER_WIDTH, POSTER_HEIGHT)
  const random = seededRandom(data.seed)
  ctx.fillStyle = '#ffffff'
  for (let i = 0; i < 70; i += 1) {
    const alpha = 0.15 + random() * 0.55
    const x = random() * POSTER_WIDTH
    const y = random() * POSTER_HEIGHT
    const size = 0.4 + random() * 1.1
    if (y < 115 && x < 300) continue // no star on the title lines
    ctx.globalAlpha = alpha
    ctx.beginPath()
    ctx.arc(x, y, size, 0, Math.PI * 2)
    ctx.fill()
  }
  ctx.globalAlpha = 1
  // a soft glow behind the score
  ctx.globalAlpha = 0.18
  ctx.fillStyle = '#7b5cff'
  ctx.beginPath()
  ctx.arc(96, 300, 76, 0, Math.PI * 2)
  ctx.fill()
  ctx.globalAlpha = 1
}

function header(ctx: Ctx2D, data: PosterData): void {
  ctx.textBaseline = 'alphabetic'
  ctx.textAlign = 'left'
  ctx.fillStyle = '#f5c86b'
  ctx.font = font(16, 'bold')
  ctx.fillText(data.appName, 24, 44)
  const width = ctx.measureText(data.appName).width
  ctx.fillStyle = '#a99fd6'
  ctx.font = font(11)
  ctx.fillText(data.appNameAlt, 24 + width + 8, 44)
  ctx.fillStyle = '#ffffff'
  ctx.font = font(22, 'bold')
  const who = data.name ? `${data.name} · ` : ''
  const title = wrapText((s) => ctx.measureText(s).width, who + data.title, POSTER_WIDTH - 48, 1)[0] ?? ''
  ctx.fillText(title, 24, 84)
  ctx.fillStyle = '#b9b2d9'
  ctx.font = font(12)
  ctx.fillText(data.dateText, 24, 106)
}

function pillars(ctx: Ctx2D, data: PosterData): void {
  const count = data.pillars.length
  if (!count) return
  const gap = 10
  const width = (POSTER_WIDTH - 48 - gap * (count - 1)) / count
  data.pillars.forEach((pillar, i) => {
    const x = 24 + i * (width + gap)
    const y = 124
    ctx.fillStyle = 'rgba(255,255,255,0.06)'
    roundRect(ctx, x, y, width, 84, 10)
    ctx.fill()
    ctx.strokeStyle = 'rgba(245,200,107,0.25)'
    ctx.lineWidth = 1
    ctx.stroke()
    ctx.textAlign = 'center'
    ctx.fillStyle = '#a99fd6'
    ctx.font = font(11)
    ctx.fillText(pillar.label, x + width / 2, y + 18)
    ctx.font = font(24, 'bold')
    ctx.fillStyle = ELEMENT_COLOR[pillar.stemElement]
    ctx.fillText(pillar.stem, x + width / 2, y + 48)
    ctx.fillStyle = ELEMENT_COLOR[pillar.branchElement]
    ctx.fillText(pillar.branch, x + width / 2, y + 76)
  })
}

function scoreRing(ctx: Ctx2D, data: PosterData): void {
  const cx = 96
  const cy = 300
  const r = 58
  ctx.lineCap = 'round'
  ctx.lineWidth = 10
  ctx.strokeStyle = 'rgba(255,255,255,0.1)'
  ctx.beginPath()
  ctx.arc(cx, cy, r, 0, Math.PI * 2)
  ctx.stroke()
  const ring = ctx.createLinearGradient(cx - r, cy - r, cx + r, cy + r)
  ring.addColorStop(0, '#ffe29a')
  ring.addColorStop(1, '#f08a5d')
  ctx.strokeStyle = ring
  ctx.beginPath()
  const start = -Math.PI / 2
  ctx.arc(cx, cy, r, start, start + (Math.PI * 2 * Math.max(1, data.overall)) / 100)
  ctx.stroke()
  ctx.lineCap = 'butt'
  ctx.textAlign = 'center'
  ctx.fillStyle = '#ffffff'
  ctx.font = font(40, 'bold')
  ctx.fillText(String(data.overall), cx, cy + 10)
  ctx.fillStyle = '#b9b2d9'
  ctx.font = font(11)
  ctx.fillText(data.overallLabel, cx, cy + 30)
  ctx.fillStyle = '#f5c86b'
  ctx.font = font(15, 'bold')
  ctx.fillText(data.band, cx, cy + r + 30)
}

function radar(ctx: Ctx2D, data: PosterData): void {
  const cx = 268
  const cy = 300
  const radius = 58
  const n = data.scores.length
  if (n < 3) return
  ctx.lineWidth = 1
  for (const level of [25, 50, 75, 100]) {
    const ring = radarPoints(new Array(n).fill(level), cx, cy, radius)
    ctx.strokeStyle = level === 100 ? 'rgba(255,255,255,0.28)' : 'rgba(255,255,255,0.12)'
    ctx.beginPath()
    ring.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)))
    ctx.closePath()
    ctx.stroke()
  }
  const outer = radarPoints(new Array(n).fill(100), cx, cy, radius)
  for (const [x, y] of outer) {
    ctx.beginPath()
    ctx.moveTo(cx, cy)
    ctx.lineTo(x, y)
    ctx.stroke()
  }
  const shape = radarPoints(data.scores.map((s) => s.value), cx, cy, radius)
  ctx.fillStyle = 'rgba(94,214,255,0.35)'
  ctx.strokeStyle = '#5ed6ff'
  ctx.lineWidth = 2
  ctx.beginPath()
  shape.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)))
  ctx.closePath()
  ctx.fill()
  ctx.stroke()
  ctx.fillStyle = '#d9d4f2'
  ctx.font = font(11)
  const labels = radarPoints(new Array(n).fill(100), cx, cy, radius + 16)
  labels.forEach(([x, y], i) => {
    ctx.textAlign = Math.abs(x - cx) < 4 ? 'center' : x > cx ? 'left' : 'right'
    ctx.fillText(`${data.scores[i].label} ${data.scores[i].value}`, x + (x > cx + 4 ? -6 : x < cx - 4 ? 6 : 0), y + 4)
  })
}

function summary(ctx: Ctx2D, data: PosterData): number {
  const x = 24
  const y = 404
  const width = POSTER_WIDTH - 48
  ctx.font = font(15)
  const lines = wrapText((s) => ctx.measureText(s).width, data.summary, width - 32, 4)
  const height = 28 + lines.length * 24
  ctx.fillStyle = 'rgba(255,255,255,0.07)'
  roundRect(ctx, x, y, width, height, 12)
  ctx.fill()
  ctx.fillStyle = '#f5c86b'
  ctx.fillRect(x, y + 12, 3, height - 24)
  ctx.fillStyle = '#f3f0ff'
  ctx.textAlign = 'left'
  ctx.font = font(15)
  lines.forEach((line, i) => ctx.fillText(line, x + 16, y + 30 + i * 24))
  return y + height
}

/** The lucky items, centred between the summary and the footer. */
function lucky(ctx: Ctx2D, data: PosterData, top: number): void {
  ctx.textAlign = 'center'
  ctx.fillStyle = '#f5c86b'
  ctx.font = font(14, 'bold')
  const lines = wrapText((s) => ctx.measureText(s).width, data.lucky, POSTER_WIDTH - 48, 2)
  const middle = (top + FOOTER_LINE) / 2
  const first = middle - ((lines.length - 1) * 22) / 2 + 5
  lines.forEach((text, i) => ctx.fillText(text, POSTER_WIDTH / 2, first + i * 22))
}

const FOOTER_LINE = 612

function footer(ctx: Ctx2D, data: PosterData): void {
  ctx.strokeStyle = 'rgba(245,200,107,0.35)'
  ctx.lineWidth = 1
  ctx.beginPath()
  ctx.moveTo(24, FOOTER_LINE)
  ctx.lineTo(POSTER_WIDTH - 24, FOOTER_LINE)
  ctx.stroke()
  ctx.textAlign = 'center'
  ctx.fillStyle = '#f5c86b'
  ctx.font = font(13, 'bold')
  ctx.fillText(`${data.appName} · ${data.appNameAlt}`, POSTER_WIDTH / 2, 634)
  ctx.fillStyle = '#8f88b8'
  ctx.font = font(10)
  ctx.fillText(data.footer, POSTER_WIDTH / 2, 652)
}

/** Draw the whole poster on a context already scaled to the 375 × 667 frame. */
export function drawPoster(ctx: Ctx2D, data: PosterData): void {
  ctx.save()
  background(ctx, data)
  header(ctx, data)
  pillars(ctx, data)
  scoreRing(ctx, data)
  radar(ctx, data)
  const bottom = summary(ctx, data)
  lucky(ctx, data, bottom)
  footer(ctx, data)
  ctx.restore()
}
