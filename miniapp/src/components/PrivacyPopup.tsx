import { Button, Text, View } from '@tarojs/components'
import Taro from '@tarojs/taro'
import { useEffect, useState } from 'react'
import { RETENTION_DAYS } from '../lib/history'
import { t } from '../lib/i18n'
import { AGREE_BUTTON_ID } from '../lib/wxprivacy'
import { privacyGate, useLanguage } from '../services/app'
import './PrivacyPopup.scss'

/**
 * The app's privacy popup for WeChat's privacy authorization (lib/wxprivacy.ts): shown while
 * WeChat holds a protected API (saving the poster to the album, or the consent's
 * `requirePrivacyAuthorize`) until the user answers. It is the consent notice (what is sent, kept,
 * for how long) with WeChat's agree button (`open-type="agreePrivacyAuthorization"`, which alone
 * can give WeChat the agreement) and a decline. Every page's Shell holds one; where WeChat has no
 * privacy check (H5) it never shows.
 */
export default function PrivacyPopup() {
  const lang = useLanguage()
  const [asking, setAsking] = useState(privacyGate.asking())
  useEffect(() => {
    setAsking(privacyGate.asking())
    return privacyGate.subscribe(setAsking)
  }, [])
  if (!asking) return null
  return (
    <View className='privacy-popup' id='privacy-popup'>
      <View className='privacy-popup__sheet' role='dialog' aria-modal='true'>
        <Text className='privacy-popup__title'>{t(lang, 'consentTitle')}</Text>
        <Text className='privacy-popup__body'>{t(lang, 'consentBody', { days: RETENTION_DAYS })}</Text>
        <Text className='privacy-popup__body'>{t(lang, 'privacyPopupWechat')}</Text>
        <View className='privacy-popup__link' onClick={() => Taro.navigateTo({ url: '/pages/privacy/index' })}>
          <Text>{t(lang, 'privacyLink')}</Text>
        </View>
        <View className='actions'>
          <Button
            className='btn-primary privacy-popup__agree'
            id={AGREE_BUTTON_ID}
            openType='agreePrivacyAuthorization'
            onAgreePrivacyAuthorization={() => privacyGate.agree(AGREE_BUTTON_ID)}
          >
            {t(lang, 'consentAgree')}
          </Button>
          <View className='btn-ghost' id='btn-privacy-decline' onClick={() => privacyGate.disagree()}>
            <Text>{t(lang, 'consentDecline')}</Text>
          </View>
        </View>
      </View>
    </View>
  )
}
