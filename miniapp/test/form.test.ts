import { describe, expect, it } from 'vitest'
import {
  availableLeapMonth,
  buildProfile,
  buildRequest,
  checkForm,
  defaultForm,
  firstErrorField,
  mapFieldErrors,
  nameLength,
  normaliseDate,
  normaliseTime,
  type FormState,
} from '../src/lib/form'

function form(changes: Partial<FormState> = {}): FormState {
  return { ...defaultForm('zh-CN'), birthDate: '1990-05-17', birthTime: '08:30', ...changes }
}

describe('building the request from the form', () => {
  it('gives the API body with the chosen city’s zone and no longitude unless asked', () => {
    expect(buildRequest(form({ name: ' 小满 ', gender: 'female', topic: 'love', period: 'week', language: 'en' }))).toEqual({
      profile: {
        name: '小满',
        gender: 'female',
        calendar: 'solar',
        birthDate: '1990-05-17',
        birthTime: '08:30',
        timezone: 'Asia/Shanghai',
      },
      topic: 'love',
      period: 'week',
      language: 'en',
    })
  })

  it('adds the city’s longitude for true solar time', () => {
    const profile = buildProfile(form({ cityId: 'urumqi', trueSolarTime: true }))
    expect(profile.timezone).toBe('Asia/Shanghai')
    expect(profile.longitude).toBe(87.62)
  })

  it('takes a manual time zone and longitude', () => {
    const profile = buildProfile(form({ cityId: 'manual', timezone: ' Europe/Paris ', longitude: '2.35', trueSolarTime: true }))
    expect(profile.timezone).toBe('Europe/Paris')
    expect(profile.longitude).toBe(2.35)
    expect(buildProfile(form({ cityId: 'manual', timezone: 'Europe/Paris', longitude: '', trueSolarTime: true })).longitude).toBeUndefined()
  })

  it('leaves the time out when it is unknown and the name when empty', () => {
    const profile = buildProfile(form({ timeUnknown: true, name: '   ' }))
    expect(profile).not.toHaveProperty('birthTime')
    expect(profile).not.toHaveProperty('name')
    expect(buildRequest(form())).not.toHaveProperty('date')
  })

  it('sends leapMonth only for a lunar date in that year’s leap month', () => {
    expect(buildProfile(form({ calendar: 'lunar', birthDate: '2023-02-15', leapMonth: true })).leapMonth).toBe(true)
    expect(buildProfile(form({ calendar: 'lunar', birthDate: '2023-03-15', leapMonth: true }))).not.toHaveProperty('leapMonth')
    expect(buildProfile(form({ calendar: 'solar', birthDate: '2023-02-15', leapMonth: true }))).not.toHaveProperty('leapMonth')
  })

  it('shows the leap switch only for lunar years that have a leap month', () => {
    expect(availableLeapMonth(form({ calendar: 'lunar', birthDate: '2023-02-15' }))).toBe(2)
    expect(availableLeapMonth(form({ calendar: 'lunar', birthDate: '2024-02-15' }))).toBe(0)
    expect(availableLeapMonth(form({ calendar: 'solar', birthDate: '2023-02-15' }))).toBe(0)
  })

  it('accepts dates and times typed loosely', () => {
    expect(normaliseDate('1990/5/7')).toBe('1990-05-07')
    expect(normaliseDate('1990年5月7日')).toBe('1990-05-07')
    expect(normaliseDate(' 1990.05.17 ')).toBe('1990-05-17')
    expect(normaliseDate('May 7')).toBe('May 7')
    expect(normaliseTime('8:30')).toBe('08:30')
    expect(normaliseTime('08：30')).toBe('08:30')
    expect(normaliseTime('0830')).toBe('08:30')
    expect(buildProfile(form({ birthDate: '1990/5/7', birthTime: '8:05' }))).toMatchObject({ birthDate: '1990-05-07', birthTime: '08:05' })
  })

  it('counts the name in characters as a person does', () => {
    expect(nameLength('小满')).toBe(2)
    expect(nameLength('👩‍🚀')).toBe(3) // code points, as the API counts
    expect(nameLength('  Ann  ')).toBe(3)
  })
})

describe('checks before asking the API', () => {
  it('only checks the shape of what was typed', () => {
    expect(checkForm(form(), 'zh-CN')).toEqual({})
    // not a real date, but well formed: the API decides (and says why, per field)
    expect(checkForm(form({ birthDate: '1990-02-30' }), 'zh-CN')).toEqual({})
    expect(checkForm(form({ birthDate: '' }), 'en').birthDate).toBe('Please fill this in')
    expect(checkForm(form({ birthDate: 'yesterday' }), 'zh-CN').birthDate).toContain('年-月-日')
    expect(checkForm(form({ birthTime: '25:00' }), 'en').birthTime).toContain('hours:minutes')
    expect(checkForm(form({ birthTime: '25:00', timeUnknown: true }), 'en')).toEqual({})
    expect(checkForm(form({ name: '字'.repeat(33) }), 'zh-CN').name).toBe('称呼最多 32 个字')
    expect(checkForm(form({ name: '字'.repeat(32) }), 'zh-CN')).toEqual({})
  })

  it('checks the manual place', () => {
    const errors = checkForm(form({ cityId: 'manual', timezone: '', longitude: '200' }), 'en')
    expect(errors.timezone).toBeDefined()
    expect(errors.longitude).toBe('Longitude must be between -180 and 180')
  })
})

describe('422 field errors', () => {
  const fields = {
    'profile.birthDate': { en: 'lunar month 2 of 2023 has 29 days, not 30', zh: '农历2023年2月只有29天，没有第30天' },
    'profile.birthTime': { en: 'must be a time HH:MM (00:00–23:59)', zh: '时间格式必须是 HH:MM' },
    date: { en: 'must be between 1901-01-01 and 2099-12-31', zh: '必须在 1901-01-01 与 2099-12-31 之间' },
  }

  it('are shown next to their fields in the user’s language', () => {
    expect(mapFieldErrors(fields, 'zh-CN')).toEqual({
      birthDate: '农历2023年2月只有29天，没有第30天',
      birthTime: '时间格式必须是 HH:MM',
      form: '必须在 1901-01-01 与 2099-12-31 之间',
    })
    expect(mapFieldErrors(fields, 'en').birthDate).toBe('lunar month 2 of 2023 has 29 days, not 30')
  })

  it('put calendar and leap month errors under the date, and join two of them', () => {
    const errors = mapFieldErrors(
      {
        'profile.leapMonth': { en: 'leapMonth applies only to calendar lunar', zh: 'leapMonth 只适用于农历' },
        'profile.birthDate': { en: 'is not a real date', zh: '不是有效的日期' },
      },
      'en',
    )
    expect(errors).toEqual({ birthDate: 'leapMonth applies only to calendar lunar; is not a real date' })
  })

  it('fall back to the other language when one is missing', () => {
    expect(mapFieldErrors({ 'profile.name': { en: 'too long', zh: '' } }, 'zh-CN')).toEqual({ name: 'too long' })
  })

  it('scroll to the first field in page order', () => {
    expect(firstErrorField({ birthTime: 'x', name: 'y' })).toBe('name')
    expect(firstErrorField({})).toBeUndefined()
  })
})
