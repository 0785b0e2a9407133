import { Input, Picker, Switch, Text, View } from '@tarojs/components'
import Taro, { useDidShow } from '@tarojs/taro'
import { useMemo, useState } from 'react'
import Choice from '../../components/Choice'
import Field from '../../components/Field'
import Failure from '../../components/Failure'
import Shell from '../../components/Shell'
import { CITIES, MANUAL_CITY, findCity } from '../../lib/cities'
import { ApiError } from '../../lib/errors'
import {
  NAME_MAX_LENGTH,
  availableLeapMonth,
  buildProfile,
  checkForm,
  defaultForm,
  leapApplies,
  mapFieldErrors,
  nameLength,
  normaliseDate,
  type FieldErrors,
  type FormState,
} from '../../lib/form'
import { periodName, topicName } from '../../lib/format'
import { t } from '../../lib/i18n'
import { lunarDayName, lunarMonthName } from '../../lib/lunar'
import { PERIODS, TOPICS, type Calendar, type Gender, type Language } from '../../lib/types'
import { api, askConsent, history, loadForm, saveChart, saveForm, useLanguage } from '../../services/app'
import './index.scss'

const LUNAR_YEARS = Array.from({ length: new Date().getFullYear() - 1900 + 1 }, (_, i) => String(1900 + i))
const LUNAR_MONTHS = Array.from({ length: 12 }, (_, i) => String(i + 1).padStart(2, '0'))
const LUNAR_DAYS = Array.from({ length: 30 }, (_, i) => String(i + 1).padStart(2, '0'))

function today(): string {
  const now = new Date()
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`
}

export default function IndexPage() {
  const lang = useLanguage()
  const [form, setForm] = useState<FormState>(() => loadForm() ?? defaultForm(lang))
  const [errors, setErrors] = useState<FieldErrors>({})
  const [busy, setBusy] = useState(false)
  /** the chart request failed (no answer, a 500…): shown with a retry, in the chosen language */
  const [failure, setFailure] = useState<unknown>()
  const [pendingId, setPendingId] = useState<string | undefined>()

  useDidShow(() => {
    setPendingId(history.pending()?.id)
  })

  const update = (changes: Partial<FormState>) => {
    const next = { ...form, ...changes }
    setForm(next)
    saveForm(next)
    const cleared = { ...errors }
    for (const key of Object.keys(changes)) delete cleared[key as keyof FieldErrors]
    if ('calendar' in changes || 'leapMonth' in changes) delete cleared.birthDate
    if ('cityId' in changes) {
      delete cleared.timezone
      delete cleared.longitude
    }
    delete cleared.form
    setErrors(cleared)
  }

  const leapMonth = availableLeapMonth(form)
  const showLeap = leapMonth > 0 && (leapApplies(form) || normaliseDate(form.birthDate).length < 7)
  const city = findCity(form.cityId)
  const longitudeText = city ? String(city.longitude) : form.longitude.trim()

  const lunarReading = useMemo(() => {
    if (form.calendar !== 'lunar') return ''
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(normaliseDate(form.birthDate))
    if (!match) return ''
    const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
    if (month < 1 || month > 12 || day < 1 || day > 30) return ''
    return t(lang, 'lunarReading', {
      year,
      month: lunarMonthName(month, form.leapMonth && leapApplies(form)),
      day: lunarDayName(day),
    })
  }, [form, lang])

  const lunarPickerValue = useMemo(() => {
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(normaliseDate(form.birthDate))
    if (!match) return [90, 0, 0]
    return [
      Math.max(0, LUNAR_YEARS.indexOf(match[1])),
      Math.max(0, LUNAR_MONTHS.indexOf(match[2])),
      Math.max(0, LUNAR_DAYS.indexOf(match[3])),
    ]
  }, [form.birthDate])

  const submit = async () => {
    if (busy) return
    const local = checkForm(form, lang)
    if (Object.keys(local).length) {
      setErrors({ ...local, form: t(lang, 'formHasErrors') })
      return
    }
    if (!(await askConsent(lang))) {
      setErrors({ form: t(lang, 'consentDeclined') })
      return
    }
    setBusy(true)
    setErrors({})
    setFailure(undefined)
    try {
      const chart = await api.deriveProfile(buildProfile(form))
      saveChart({ form, chart })
      await Taro.navigateTo({ url: '/pages/chart/index' })
    } catch (error) {
      if (error instanceof ApiError && error.status === 422 && Object.keys(error.fields).length) {
        const mapped = mapFieldErrors(error.fields, lang)
        setErrors({ ...mapped, form: mapped.form ?? t(lang, 'formHasErrors') })
      } else {
        setFailure(error ?? new Error('failed'))
      }
    } finally {
      setBusy(false)
    }
  }

  const languages: { value: Language; label: string }[] = [
    { value: 'zh-CN', label: t(lang, 'language_zh') },
    { value: 'en', label: t(lang, 'language_en') },
  ]

  return (
    <Shell page='index' brand subtitle={<Text>{t(lang, 'appTagline')}</Text>}>
      {pendingId ? (
        <View
          className='notice resume'
          id='resume-banner'
          onClick={() => Taro.navigateTo({ url: `/pages/waiting/index?id=${pendingId}` })}
        >
          <Text>{t(lang, 'resumeBanner')} →</Text>
        </View>
      ) : null}

      {failure !== undefined ? (
        <Failure error={failure} lang={lang} onRetry={() => void submit()} busy={busy} back='none' id='error-form' />
      ) : null}
      {errors.form ? (
        <View className='notice notice--error' id='error-form' role='alert'>
          <Text>{errors.form}</Text>
        </View>
      ) : null}

      <View className='columns'>
        <View className='column card'>
          <Text className='card__title'>{t(lang, 'formTitle')}</Text>

          <Field
            name='name'
            label={t(lang, 'name')}
            extra={
              <Text className={nameLength(form.name) > NAME_MAX_LENGTH ? 'counter counter--over' : 'counter'}>
                {nameLength(form.name)}/{NAME_MAX_LENGTH}
              </Text>
            }
            error={errors.name}
          >
            <View className='input-row'>
              <Input
                id='input-name'
                className='input-row__input'
                placeholderClass='input-row__placeholder'
                value={form.name}
                placeholder={t(lang, 'namePlaceholder')}
                onInput={(e) => update({ name: e.detail.value })}
              />
            </View>
          </Field>

          <Field name='gender' label={t(lang, 'gender')} error={errors.gender}>
            <Choice<Gender>
              id='gender'
              value={form.gender}
              onChange={(gender) => update({ gender })}
              options={[
                { value: 'female', label: t(lang, 'genderFemale') },
                { value: 'male', label: t(lang, 'genderMale') },
                { value: 'unspecified', label: t(lang, 'genderUnspecified') },
              ]}
            />
          </Field>

          <Field name='calendar' label={t(lang, 'calendar')}>
            <Choice<Calendar>
              id='calendar'
              value={form.calendar}
              onChange={(calendar) => update({ calendar, leapMonth: false })}
              options={[
                { value: 'solar', label: t(lang, 'calendarSolar') },
                { value: 'lunar', label: t(lang, 'calendarLunar') },
              ]}
            />
          </Field>

          <Field
            name='birthDate'
            label={t(lang, 'birthDate')}
            error={errors.birthDate}
            hint={lunarReading ? <Text id='lunar-reading'>{lunarReading}</Text> : undefined}
          >
            <View className='input-row'>
              <Input
                id='input-birthDate'
                className='input-row__input'
                placeholderClass='input-row__placeholder'
                value={form.birthDate}
                placeholder={t(lang, form.calendar === 'lunar' ? 'birthDateLunarPlaceholder' : 'birthDateSolarPlaceholder')}
                onInput={(e) => update({ birthDate: e.detail.value })}
                onBlur={(e) => update({ birthDate: normaliseDate(e.detail.value) })}
              />
              {form.calendar === 'solar' ? (
                <Picker
                  mode='date'
                  value={/^\d{4}-\d{2}-\d{2}$/.test(form.birthDate) ? form.birthDate : '1990-01-01'}
                  start='1900-01-01'
                  end={today()}
                  onChange={(e) => update({ birthDate: String(e.detail.value) })}
                >
                  <View className='input-row__action'>{t(lang, 'birthDatePick')}</View>
                </Picker>
              ) : (
                <Picker
                  mode='multiSelector'
                  range={[LUNAR_YEARS, LUNAR_MONTHS.map((m) => lunarMonthName(Number(m), false)), LUNAR_DAYS.map((d) => lunarDayName(Number(d)))]}
                  value={lunarPickerValue}
                  onChange={(e) => {
                    const [y, m, d] = e.detail.value as number[]
                    update({ birthDate: `${LUNAR_YEARS[y]}-${LUNAR_MONTHS[m]}-${LUNAR_DAYS[d]}` })
                  }}
                >
                  <View className='input-row__action'>{t(lang, 'birthDatePick')}</View>
                </Picker>
              )}
            </View>
            {showLeap ? (
              <View className='switch-row' id='leap-row'>
                <Text className='switch-row__text'>
                  {t(lang, 'leapMonthHint', { year: normaliseDate(form.birthDate).slice(0, 4), month: lunarMonthName(leapMonth, false) })}
                </Text>
                <Switch
                  id='switch-leap'
                  checked={form.leapMonth}
                  color='#f5c86b'
                  onChange={(e) => update({ leapMonth: e.detail.value })}
                />
              </View>
            ) : null}
          </Field>

          <Field
            name='birthTime'
            label={t(lang, 'birthTime')}
            error={errors.birthTime}
            hint={form.timeUnknown ? <Text>{t(lang, 'birthTimeUnknownHint')}</Text> : undefined}
          >
            {!form.timeUnknown ? (
              <View className='input-row'>
                <Input
                  id='input-birthTime'
                  className='input-row__input'
                  placeholderClass='input-row__placeholder'
                  value={form.birthTime}
                  placeholder={t(lang, 'birthTimePlaceholder')}
                  onInput={(e) => update({ birthTime: e.detail.value })}
                />
                <Picker
                  mode='time'
                  value={/^\d{2}:\d{2}$/.test(form.birthTime) ? form.birthTime : '12:00'}
                  onChange={(e) => update({ birthTime: String(e.detail.value) })}
                >
                  <View className='input-row__action'>{t(lang, 'birthDatePick')}</View>
                </Picker>
              </View>
            ) : null}
            <View className='switch-row'>
              <Text>{t(lang, 'birthTimeUnknown')}</Text>
              <Switch
                id='switch-time-unknown'
                checked={form.timeUnknown}
                color='#f5c86b'
                onChange={(e) => update({ timeUnknown: e.detail.value })}
              />
            </View>
          </Field>

          <Field name='place' label={t(lang, 'place')} error={form.cityId !== MANUAL_CITY ? errors.timezone ?? errors.longitude : undefined}>
            <View className='chips' id='city'>
              {CITIES.map((item) => (
                <View
                  key={item.id}
                  id={`city-${item.id}`}
                  className={`chip ${form.cityId === item.id ? 'chip--on' : ''}`}
                  onClick={() => update({ cityId: item.id, timezone: item.timezone, longitude: String(item.longitude) })}
                >
                  <Text>{lang === 'zh-CN' ? item.zh : item.en}</Text>
                </View>
              ))}
              <View
                id={`city-${MANUAL_CITY}`}
                className={`chip ${form.cityId === MANUAL_CITY ? 'chip--on' : ''}`}
                onClick={() => update({ cityId: MANUAL_CITY, longitude: '' })}
              >
                <Text>{t(lang, 'placeManual')}</Text>
              </View>
            </View>
          </Field>

          {form.cityId === MANUAL_CITY ? (
            <View className='manual-place'>
              <Field name='timezone' label={t(lang, 'timezone')} error={errors.timezone}>
                <View className='input-row'>
                  <Input
                    id='input-timezone'
                    className='input-row__input'
                    placeholderClass='input-row__placeholder'
                    value={form.timezone}
                    placeholder={t(lang, 'timezonePlaceholder')}
                    onInput={(e) => update({ timezone: e.detail.value })}
                  />
                </View>
              </Field>
              <Field name='longitude' label={t(lang, 'longitude')} error={errors.longitude}>
                <View className='input-row'>
                  <Input
                    id='input-longitude'
                    className='input-row__input'
                    placeholderClass='input-row__placeholder'
                    type='digit'
                    value={form.longitude}
                    placeholder={t(lang, 'longitudePlaceholder')}
                    onInput={(e) => update({ longitude: e.detail.value })}
                  />
                </View>
              </Field>
            </View>
          ) : null}

          {longitudeText !== '' ? (
            <View className='switch-row solar-row'>
              <View className='solar-row__text'>
                <Text className='solar-row__title'>{t(lang, 'trueSolarTime')}</Text>
                <Text className='solar-row__hint'>{t(lang, 'trueSolarTimeHint', { longitude: longitudeText })}</Text>
              </View>
              <Switch
                id='switch-solar'
                checked={form.trueSolarTime}
                color='#f5c86b'
                onChange={(e) => update({ trueSolarTime: e.detail.value })}
              />
            </View>
          ) : null}
        </View>

        <View className='column card'>
          <Field name='topic' label={t(lang, 'topic')} error={errors.topic}>
            <Choice id='topic' value={form.topic} onChange={(topic) => update({ topic })}
              options={TOPICS.map((value) => ({ value, label: topicName(value, lang) }))} />
          </Field>
          <Field name='period' label={t(lang, 'period')} error={errors.period}>
            <Choice id='period' value={form.period} onChange={(period) => update({ period })}
              options={PERIODS.map((value) => ({ value, label: periodName(value, lang) }))} />
          </Field>
          <Field name='language' label={t(lang, 'readingLanguage')} error={errors.language}>
            <Choice<Language> id='language' value={form.language} onChange={(language) => update({ language })} options={languages} />
          </Field>

          <View className='actions'>
            <View
              id='btn-chart'
              className={`btn-primary ${busy ? 'btn-primary--disabled' : ''}`}
              onClick={submit}
              role='button'
            >
              <Text>{busy ? t(lang, 'loadingChart') : t(lang, 'showChart')}</Text>
            </View>
            <View id='btn-history' className='btn-ghost' onClick={() => Taro.navigateTo({ url: '/pages/history/index' })}>
              <Text>{t(lang, 'history')}</Text>
            </View>
          </View>
          <Text className='disclaimer'>{t(lang, 'disclaimer')}</Text>
          <View className='btn-ghost' id='btn-privacy' onClick={() => Taro.navigateTo({ url: '/pages/privacy/index' })}>
            <Text>{t(lang, 'privacyLink')}</Text>
          </View>
        </View>
      </View>
    </Shell>
  )
}
