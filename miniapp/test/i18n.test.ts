import { describe, expect, it } from 'vitest'
import { MESSAGE_KEYS, detectLanguage, messagesOf, t } from '../src/lib/i18n'

describe('messages', () => {
  it('exist in both languages with the same placeholders', () => {
    const zh = messagesOf('zh-CN')
    const en = messagesOf('en')
    expect(Object.keys(en).sort()).toEqual(Object.keys(zh).sort())
    for (const key of MESSAGE_KEYS) {
      expect(zh[key].trim(), key).not.toBe('')
      expect(en[key].trim(), key).not.toBe('')
      const names = (text: string) => (text.match(/\{\w+\}/g) ?? []).sort()
      expect(names(en[key]), key).toEqual(names(zh[key]))
    }
  })

  it('fill placeholders and keep unknown ones visible', () => {
    expect(t('zh-CN', 'errNameLength', { max: 32 })).toBe('称呼最多 32 个字')
    expect(t('en', 'errNameLength', { max: 32 })).toBe('At most 32 characters')
    expect(t('en', 'errNameLength')).toBe('At most {max} characters')
  })

  it('follow the system language', () => {
    expect(detectLanguage('zh_CN')).toBe('zh-CN') // WeChat
    expect(detectLanguage('zh-TW')).toBe('zh-CN')
    expect(detectLanguage('en-US')).toBe('en')
    expect(detectLanguage('fr')).toBe('en')
    expect(detectLanguage(undefined)).toBe('en')
  })
})

describe('modal buttons', () => {
  it('fit the 4 Chinese characters (8 narrow ones) WeChat and Taro allow', () => {
    for (const lang of ['zh-CN', 'en'] as const) {
      for (const key of ['consentAgree', 'consentDecline', 'confirm', 'close'] as const) {
        expect(t(lang, key).replace(/[\u0391-\uFFE5]/g, 'aa').length).toBeLessThanOrEqual(8)
      }
    }
  })
})
