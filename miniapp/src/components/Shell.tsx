import { View, Text } from '@tarojs/components'
import Taro from '@tarojs/taro'
import { useEffect, type PropsWithChildren, type ReactNode } from 'react'
import { t } from '../lib/i18n'
import { setLanguage, useLanguage } from '../services/app'
import PrivacyPopup from './PrivacyPopup'
import './Shell.scss'

interface ShellProps {
  /** the page's id, for styling and tests */
  page: string
  title?: string
  subtitle?: ReactNode
  /** show the app name as the brand header (the start page) */
  brand?: boolean
}

/** Every page's frame: the title bar with the language switch, a centred column. */
export default function Shell({ page, title, subtitle, brand, children }: PropsWithChildren<ShellProps>) {
  const lang = useLanguage()
  // the navigation bar follows the chosen language (a page's config holds only the Chinese title;
  // the start page's is the app's name)
  const navigationTitle = title ?? (brand ? t(lang, 'appName') : undefined)
  useEffect(() => {
    if (navigationTitle) void Taro.setNavigationBarTitle({ title: navigationTitle }).catch(() => undefined)
  }, [navigationTitle])
  const toggle = () => {
    const next = lang === 'zh-CN' ? 'en' : 'zh-CN'
    setLanguage(next)
  }
  return (
    <View className={`shell shell--${page}`} id={`page-${page}`}>
      <View className='shell__bar'>
        <View className='shell__titles'>
          {brand ? (
            <View className='shell__brand'>
              <Text className='shell__logo'>{t(lang, 'appName')}</Text>
              <Text className='shell__logo-alt'>{lang === 'zh-CN' ? 'CyberFortune' : '赛博运势'}</Text>
            </View>
          ) : (
            <Text className='shell__title'>{title}</Text>
          )}
          {subtitle ? <View className='shell__subtitle'>{subtitle}</View> : null}
        </View>
        <View
          className='shell__lang'
          id='lang-switch'
          onClick={toggle}
          aria-label={t(lang, 'langSwitchLabel')}
          role='button'
        >
          <Text>{t(lang, 'langSwitch')}</Text>
        </View>
      </View>
      <View className='shell__body'>{children}</View>
      {/* WeChat's privacy popup, on every page but the policy it links to */}
      {page === 'privacy' ? null : <PrivacyPopup />}
    </View>
  )
}
