/// <reference types="@tarojs/taro" />

declare module '*.png'
declare module '*.svg'
declare module '*.scss'

declare namespace NodeJS {
  interface ProcessEnv {
    NODE_ENV: 'development' | 'production'
    TARO_ENV: 'weapp' | 'h5'
    TARO_APP_ID: string
  }
}

/** The API base URL, fixed at build time (config/index.ts, TARO_APP_API_BASE). */
declare const API_BASE: string

/** The "your reading is ready" subscribe message template (TARO_APP_SUBSCRIBE_TEMPLATE_ID). */
declare const SUBSCRIBE_TEMPLATE_ID: string
