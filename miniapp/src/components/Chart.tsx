import { Text, View } from '@tarojs/components'
import {
  ELEMENT_COLOR,
  almanacTerm,
  directionName,
  elementName,
  elementOfBranch,
  elementOfStem,
  formatDate,
  luckName,
  naYinName,
  phaseName,
  romanise,
  romaniseGanzhi,
  solarTermName,
  tenGodName,
  tianShenName,
  zhiXingName,
} from '../lib/format'
import { t, type MessageKey } from '../lib/i18n'
import { annualPillars, luckTimeline, qiYunText } from '../lib/luck'
import {
  ELEMENTS,
  type Almanac,
  type DerivedProfile,
  type Language,
  type LuckAt,
  type Pillar,
} from '../lib/types'
import './Chart.scss'

const PILLARS: { key: 'year' | 'month' | 'day' | 'hour'; label: MessageKey }[] = [
  { key: 'year', label: 'pillarYear' },
  { key: 'month', label: 'pillarMonth' },
  { key: 'day', label: 'pillarDay' },
  { key: 'hour', label: 'pillarHour' },
]

function Character({ char, lang, big }: { char: string; lang: Language; big?: boolean }) {
  const element = elementOfStem(char)
  return (
    <View className={big ? 'glyph glyph--big' : 'glyph'}>
      <Text className='glyph__char' style={element ? { color: ELEMENT_COLOR[element] } : undefined}>{char}</Text>
      {lang === 'en' && big ? <Text className='glyph__roman'>{romanise(char)}</Text> : null}
    </View>
  )
}

function PillarColumn({ pillar, label, lang, isDay }: { pillar: Pillar | null; label: string; lang: Language; isDay: boolean }) {
  if (!pillar) {
    return (
      <View className='pillar pillar--empty'>
        <Text className='pillar__label'>{label}</Text>
        <Text className='pillar__unknown'>{t(lang, 'hourUnknown')}</Text>
      </View>
    )
  }
  return (
    <View className={`pillar ${isDay ? 'pillar--day' : ''}`}>
      <Text className='pillar__label'>{label}</Text>
      <Text className='pillar__god'>{isDay ? t(lang, 'dayMasterMark') : tenGodName(pillar.tenGod ?? '', lang)}</Text>
      <View className='pillar__stem'>
        <Text className='pillar__glyph' style={{ color: ELEMENT_COLOR[pillar.stemElement] }}>{pillar.stem}</Text>
        {lang === 'en' ? <Text className='pillar__roman'>{romanise(pillar.stem)}</Text> : null}
      </View>
      <View className='pillar__branch'>
        <Text className='pillar__glyph' style={{ color: ELEMENT_COLOR[pillar.branchElement] }}>{pillar.branch}</Text>
        {lang === 'en' ? <Text className='pillar__roman'>{romanise(pillar.branch)}</Text> : null}
      </View>
      <View className='pillar__hidden'>
        {pillar.hiddenStems.map((stem, i) => (
          <View className='pillar__hidden-item' key={stem + i}>
            <Character char={stem} lang={lang} />
            <Text className='pillar__hidden-god'>{tenGodName(pillar.hiddenTenGods[i] ?? '', lang)}</Text>
          </View>
        ))}
      </View>
      <Text className='pillar__nayin'>{naYinName(pillar.naYin, lang)}</Text>
      {pillar.xingYun ? (
        <Text className='pillar__phase'>{phaseName(pillar.xingYun, lang)}</Text>
      ) : null}
    </View>
  )
}

/** A stem and branch in their elements' colours (romanised below them in English). */
function Ganzhi({ ganzhi, lang }: { ganzhi: string; lang: Language }) {
  const [stem, branch] = Array.from(ganzhi)
  const stemElement = elementOfStem(stem)
  const branchElement = elementOfBranch(branch)
  return (
    <View className='ganzhi'>
      <Text className='ganzhi__chars'>
        <Text style={stemElement ? { color: ELEMENT_COLOR[stemElement] } : undefined}>{stem}</Text>
        <Text style={branchElement ? { color: ELEMENT_COLOR[branchElement] } : undefined}>{branch}</Text>
      </Text>
      {lang === 'en' ? <Text className='ganzhi__roman'>{romaniseGanzhi(ganzhi)}</Text> : null}
    </View>
  )
}

/** 大运: the 起运, 童限 and the luck pillars, the one containing today marked; then the 流年. */
export function LuckCard({ profile, luck, lang }: { profile: DerivedProfile; luck?: LuckAt; lang: Language }) {
  const daYun = profile.daYun
  const timeline = daYun ? luckTimeline(daYun, luck) : undefined
  const years = annualPillars(luck)
  return (
    <View className='card luck' id='luck'>
      <Text className='card__title'>{t(lang, 'luckTitle')}</Text>
      {daYun ? (
        <View>
          <Text className='luck__start' id='qi-yun'>{qiYunText(daYun, lang)}</Text>
          {daYun.exact ? null : <Text className='card__hint'>{t(lang, 'luckApproximate')}</Text>}
          {timeline?.childhood ? (
            <Text
              className={`luck__childhood ${timeline.childhood.current ? 'luck__childhood--current' : ''}`}
              id='childhood'
            >
              {t(lang, 'luckChildhood', {
                from: timeline.childhood.startAge,
                to: timeline.childhood.endAge,
                year: timeline.childhood.startYear,
              })}
              {timeline.childhood.current ? ` · ${t(lang, 'luckCurrent')}` : ''}
            </Text>
          ) : null}
          <View className='luck__row' id='da-yun'>
            {timeline?.pillars.map((step) => (
              <View
                key={step.pillar?.index}
                className={`luck__step ${step.current ? 'luck__step--current' : ''}`}
                id={step.current ? 'da-yun-current' : undefined}
              >
                <Text className='luck__ages'>{t(lang, 'luckAges', { from: step.startAge, to: step.endAge })}</Text>
                <Ganzhi ganzhi={step.pillar?.ganzhi ?? ''} lang={lang} />
                <Text className='luck__god'>{tenGodName(step.pillar?.tenGod ?? '', lang)}</Text>
                <Text className='luck__year'>{t(lang, 'luckFrom', { year: step.startYear })}</Text>
                {step.current ? <Text className='luck__badge'>{t(lang, 'luckCurrent')}</Text> : null}
              </View>
            ))}
          </View>
        </View>
      ) : (
        <Text className='card__hint' id='luck-needs-gender'>{t(lang, 'luckNeedsGender')}</Text>
      )}
      {years.length ? (
        <View>
          <Text className='luck__subtitle'>{t(lang, 'liuNianTitle')}</Text>
          <View className='luck__row' id='liu-nian'>
            {years.map((year) => (
              <View
                key={year.year}
                className={`luck__step ${year.current ? 'luck__step--current' : ''}`}
                id={year.current ? 'liu-nian-current' : undefined}
              >
                <Text className='luck__ages'>{year.year}</Text>
                <Ganzhi ganzhi={year.ganzhi} lang={lang} />
                <Text className='luck__god'>{tenGodName(year.tenGod, lang)}</Text>
                <Text className='luck__year'>{t(lang, 'liuNianAge', { age: year.age })}</Text>
              </View>
            ))}
          </View>
        </View>
      ) : null}
    </View>
  )
}

const PILLAR_LABEL: Record<string, MessageKey> = {
  year: 'pillarYear', month: 'pillarMonth', day: 'pillarDay', hour: 'pillarHour',
}

/** 胎元/命宫/身宫, the 神煞 and any boundary warnings. */
export function ChartExtras({ profile, lang }: { profile: DerivedProfile; lang: Language }) {
  const palaces = profile.palaces
  const stars = profile.shenSha?.stars ?? []
  const warnings = profile.boundaries ?? []
  if (!palaces && !stars.length && !warnings.length) return null
  return (
    <View className='card extras' id='extras'>
      {palaces ? (
        <Text className='facts__line' id='palaces'>
          {t(lang, 'palaces', {
            taiYuan: palaces.taiYuan.ganzhi,
            mingGong: palaces.mingGong?.ganzhi ?? '—',
            shenGong: palaces.shenGong?.ganzhi ?? '—',
          })}
        </Text>
      ) : null}
      {stars.length ? (
        <View className='extras__stars' id='shen-sha'>
          <Text className='luck__subtitle'>{t(lang, 'shenShaTitle')}</Text>
          <View className='almanac__tags'>
            {stars.map((star) => (
              <Text className='tag' key={`${star.name}-${star.basis}-${star.branch}`}>
                {lang === 'zh-CN' ? star.name : star.nameEn} ·{' '}
                {star.pillars.map((p) => t(lang, PILLAR_LABEL[p] ?? 'pillarDay')).join(lang === 'zh-CN' ? '、' : ', ')}
              </Text>
            ))}
          </View>
        </View>
      ) : null}
      {warnings.length ? (
        <View className='notice' id='boundaries' role='note'>
          <Text className='luck__subtitle'>{t(lang, 'boundaryTitle')}</Text>
          {warnings.map((warning) => (
            <Text className='facts__line' key={warning.boundary}>{warning.note}</Text>
          ))}
        </View>
      ) : null}
    </View>
  )
}

/** The four pillars: ten god, stem, branch, hidden stems with their ten gods, Na Yin. */
export function PillarTable({ profile, lang }: { profile: DerivedProfile; lang: Language }) {
  return (
    <View className={`pillars pillars--${lang === 'zh-CN' ? 'zh' : 'en'}`} id='pillars'>
      {PILLARS.map(({ key, label }) => (
        <PillarColumn key={key} pillar={profile.pillars[key]} label={t(lang, label)} lang={lang} isDay={key === 'day'} />
      ))}
    </View>
  )
}

/** Five-element bars: visible count and weighted strength (hidden stems, 月令 doubled). */
export function ElementBars({ profile, lang }: { profile: DerivedProfile; lang: Language }) {
  const max = Math.max(1, ...ELEMENTS.map((e) => profile.fiveElementsWeighted[e] ?? 0))
  return (
    <View className='elements' id='elements'>
      {ELEMENTS.map((element) => {
        const weighted = profile.fiveElementsWeighted[element] ?? 0
        const favourable = profile.favourableElements.includes(element)
        return (
          <View className='elements__row' key={element}>
            <Text className='elements__name' style={{ color: ELEMENT_COLOR[element] }}>
              {elementName(element, lang)}
            </Text>
            <View className='elements__track'>
              <View
                className='elements__bar'
                style={{ width: `${Math.max(3, (weighted / max) * 100)}%`, background: ELEMENT_COLOR[element] }}
              />
            </View>
            <Text className='elements__value'>
              {profile.fiveElements[element] ?? 0} · {weighted.toFixed(1)}
            </Text>
            <Text className={`elements__mark ${favourable ? 'elements__mark--on' : ''}`}>{favourable ? '★' : ''}</Text>
          </View>
        )
      })}
    </View>
  )
}

/** The day's almanac: 宜/忌, clash, spirits' directions, officer and spirit of the day. */
export function AlmanacCard({ almanac, lang }: { almanac: Almanac; lang: Language }) {
  const yi = almanac.yi.length ? almanac.yi : []
  const ji = almanac.ji.length ? almanac.ji : []
  const chongZodiac = lang === 'zh-CN' ? almanac.chongZodiac : ZODIAC_EN[almanac.chongZodiac] ?? almanac.chongZodiac
  return (
    <View className='card almanac' id='almanac'>
      <Text className='card__title'>{t(lang, 'almanacTitle', { date: formatDate(almanac.date, lang) })}</Text>
      <Text className='almanac__line'>
        {lang === 'zh-CN' ? `农历${almanac.lunar.text}` : `Lunar month ${almanac.lunar.leapMonth ? 'leap ' : ''}${almanac.lunar.month}, day ${almanac.lunar.day}`} · {almanac.yearGanzhi}年 {almanac.monthGanzhi}月 {almanac.dayGanzhi}日
        {almanac.solarTerm ? ` · ${solarTermName(almanac.solarTerm, lang)}` : ''}
      </Text>
      <View className='almanac__block'>
        <Text className='almanac__mark almanac__mark--good'>{t(lang, 'almanacYi')}</Text>
        <View className='almanac__tags'>
          {yi.length ? yi.slice(0, 10).map((term) => <Text className='tag tag--good' key={term}>{almanacTerm(term, lang)}</Text>) : <Text className='tag'>{t(lang, 'almanacNone')}</Text>}
        </View>
      </View>
      <View className='almanac__block'>
        <Text className='almanac__mark almanac__mark--bad'>{t(lang, 'almanacJi')}</Text>
        <View className='almanac__tags'>
          {ji.length ? ji.slice(0, 10).map((term) => <Text className='tag tag--bad' key={term}>{almanacTerm(term, lang)}</Text>) : <Text className='tag'>{t(lang, 'almanacNone')}</Text>}
        </View>
      </View>
      <Text className='almanac__line'>
        {t(lang, 'almanacChong', { zodiac: chongZodiac })} · {t(lang, 'almanacSha', { direction: directionName(almanac.sha, lang) })}
      </Text>
      <Text className='almanac__line'>
        {t(lang, 'almanacGods', {
          xi: lang === 'zh-CN' ? almanac.xiShen.zh : almanac.xiShen.en,
          cai: lang === 'zh-CN' ? almanac.caiShen.zh : almanac.caiShen.en,
          fu: lang === 'zh-CN' ? almanac.fuShen.zh : almanac.fuShen.en,
        })}
      </Text>
      <Text className='almanac__line'>
        {t(lang, 'almanacOfficer', {
          zhiXing: zhiXingName(almanac.zhiXing, lang),
          tianShen: tianShenName(almanac.tianShen, lang),
          luck: luckName(almanac.tianShenLuck, lang),
        })}
      </Text>
    </View>
  )
}

const ZODIAC_EN: Record<string, string> = {
  鼠: 'Rat', 牛: 'Ox', 虎: 'Tiger', 兔: 'Rabbit', 龙: 'Dragon', 蛇: 'Snake', 马: 'Horse', 羊: 'Goat',
  猴: 'Monkey', 鸡: 'Rooster', 狗: 'Dog', 猪: 'Pig',
}
