/** A short list of birth places: IANA time zone and longitude (east positive, for true solar time). */
export interface City {
  id: string
  zh: string
  en: string
  timezone: string
  longitude: number
}

export const CITIES: readonly City[] = [
  { id: 'beijing', zh: '北京', en: 'Beijing', timezone: 'Asia/Shanghai', longitude: 116.4 },
  { id: 'shanghai', zh: '上海', en: 'Shanghai', timezone: 'Asia/Shanghai', longitude: 121.47 },
  { id: 'guangzhou', zh: '广州', en: 'Guangzhou', timezone: 'Asia/Shanghai', longitude: 113.26 },
  { id: 'shenzhen', zh: '深圳', en: 'Shenzhen', timezone: 'Asia/Shanghai', longitude: 114.06 },
  { id: 'chengdu', zh: '成都', en: 'Chengdu', timezone: 'Asia/Shanghai', longitude: 104.07 },
  { id: 'chongqing', zh: '重庆', en: 'Chongqing', timezone: 'Asia/Shanghai', longitude: 106.55 },
  { id: 'hangzhou', zh: '杭州', en: 'Hangzhou', timezone: 'Asia/Shanghai', longitude: 120.16 },
  { id: 'wuhan', zh: '武汉', en: 'Wuhan', timezone: 'Asia/Shanghai', longitude: 114.31 },
  { id: 'xian', zh: '西安', en: "Xi'an", timezone: 'Asia/Shanghai', longitude: 108.94 },
  { id: 'harbin', zh: '哈尔滨', en: 'Harbin', timezone: 'Asia/Shanghai', longitude: 126.64 },
  { id: 'urumqi', zh: '乌鲁木齐', en: 'Ürümqi', timezone: 'Asia/Shanghai', longitude: 87.62 },
  { id: 'hongkong', zh: '香港', en: 'Hong Kong', timezone: 'Asia/Hong_Kong', longitude: 114.17 },
  { id: 'taipei', zh: '台北', en: 'Taipei', timezone: 'Asia/Taipei', longitude: 121.56 },
  { id: 'singapore', zh: '新加坡', en: 'Singapore', timezone: 'Asia/Singapore', longitude: 103.82 },
  { id: 'tokyo', zh: '东京', en: 'Tokyo', timezone: 'Asia/Tokyo', longitude: 139.69 },
  { id: 'london', zh: '伦敦', en: 'London', timezone: 'Europe/London', longitude: -0.13 },
  { id: 'newyork', zh: '纽约', en: 'New York', timezone: 'America/New_York', longitude: -74.01 },
  { id: 'sanfrancisco', zh: '旧金山', en: 'San Francisco', timezone: 'America/Los_Angeles', longitude: -122.42 },
  { id: 'sydney', zh: '悉尼', en: 'Sydney', timezone: 'Australia/Sydney', longitude: 151.21 },
]

/** The choice that opens the manual time zone and longitude fields. */
export const MANUAL_CITY = 'manual'

export function findCity(id: string): City | undefined {
  return CITIES.find((city) => city.id === id)
}
