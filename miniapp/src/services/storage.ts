import Taro from '@tarojs/taro'
import type { KeyValueStore } from '../lib/storage'

/** Taro's synchronous storage (WeChat storage; localStorage in H5), values as JSON text. */
export const taroStore: KeyValueStore = {
  get<T>(key: string): T | undefined {
    try {
      const raw: unknown = Taro.getStorageSync(key)
      if (raw === '' || raw === undefined || raw === null) return undefined
      return (typeof raw === 'string' ? JSON.parse(raw) : raw) as T
    } catch {
      return undefined
    }
  },
  set<T>(key: string, value: T): void {
    Taro.setStorageSync(key, JSON.stringify(value))
  },
  remove(key: string): void {
    Taro.removeStorageSync(key)
  },
}
