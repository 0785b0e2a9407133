import { defineConfig, type UserConfigExport } from '@tarojs/cli'
import TsconfigPathsPlugin from 'tsconfig-paths-webpack-plugin'

/**
 * One source, two targets: `taro build --type weapp` → dist/weapp, `--type h5` → dist/h5.
 *
 * TARO_APP_API_BASE (build time) is the API's base URL. Empty (the H5 default) means the page's
 * own origin, which is how `make run` serves it (http://127.0.0.1:8080/app/); the WeChat build
 * needs an absolute https URL on a domain listed in the mini-program's request domains.
 * TARO_APP_PUBLIC_PATH (H5 only) is where the H5 build is served from, default /app/.
 */
const target = process.env.TARO_ENV ?? 'h5'
// A release build (TARO_APP_RELEASE=1, for a real phone) has no local default: its API is an
// https URL on one of the mini-program's request domains, or the build stops here. Only a
// development build (TARO_APP_RELEASE unset, empty or 0) falls back to http://127.0.0.1:8080.
const releaseFlag = process.env.TARO_APP_RELEASE ?? ''
if (!['', '0', '1'].includes(releaseFlag)) {
  throw new Error(`TARO_APP_RELEASE is 1 (a release build) or unset/0 (a development build), not ${JSON.stringify(releaseFlag)}`)
}
const release = releaseFlag === '1'
if (release && target === 'weapp' && !/^https:\/\/[^/]/.test(process.env.TARO_APP_API_BASE ?? '')) {
  const given = process.env.TARO_APP_API_BASE ? `, not ${JSON.stringify(process.env.TARO_APP_API_BASE)}` : ' (it is not set)'
  throw new Error(
    `a release build of the mini-program needs TARO_APP_API_BASE=https://<your API> (a request domain of the mini-program)${given}: ` +
      'there is no 127.0.0.1 default in a release build. Build with ' +
      'TARO_APP_RELEASE=1 TARO_APP_API_BASE=https://api.example.com make miniapp (docs/miniapp.md, "A release build")',
  )
}
const defaultApiBase = target === 'weapp' ? 'http://127.0.0.1:8080' : ''
const apiBase = (process.env.TARO_APP_API_BASE ?? defaultApiBase).replace(/\/+$/, '')
// where the build goes: dist/<target>, or TARO_APP_OUTPUT_ROOT (a build beside the usual one)
const outputRoot = process.env.TARO_APP_OUTPUT_ROOT || `dist/${target}`
const publicPath = process.env.TARO_APP_PUBLIC_PATH ?? '/app/'

export default defineConfig<'webpack5'>(async () => {
  const config: UserConfigExport<'webpack5'> = {
    projectName: 'cyberfortune-miniapp',
    date: '2026-11-25',
    designWidth: 750,
    deviceRatio: { 640: 2.34 / 2, 750: 1, 375: 2, 828: 1.81 / 2 },
    sourceRoot: 'src',
    outputRoot,
    plugins: [],
    defineConstants: {
      API_BASE: JSON.stringify(apiBase),
      SUBSCRIBE_TEMPLATE_ID: JSON.stringify(process.env.TARO_APP_SUBSCRIBE_TEMPLATE_ID ?? ''),
    },
    copy: {
      patterns: target === 'weapp' ? [{ from: 'src/sitemap.json', to: `${outputRoot}/sitemap.json` }] : [],
      options: {},
    },
    framework: 'react',
    compiler: 'webpack5',
    cache: { enable: false },
    logger: { quiet: true, stats: false },
    mini: {
      postcss: {
        pxtransform: { enable: true, config: {} },
        cssModules: { enable: false },
      },
      webpackChain(chain) {
        chain.resolve.plugin('tsconfig-paths').use(TsconfigPathsPlugin)
      },
    },
    h5: {
      publicPath,
      staticDirectory: 'static',
      router: { mode: 'hash' },
      output: {
        filename: 'js/[name].[contenthash:8].js',
        chunkFilename: 'js/[name].[contenthash:8].js',
      },
      miniCssExtractPluginOption: {
        ignoreOrder: true,
        filename: 'css/[name].[contenthash:8].css',
        chunkFilename: 'css/[name].[contenthash:8].css',
      },
      postcss: {
        autoprefixer: { enable: true, config: {} },
        pxtransform: { enable: true, config: {} },
        cssModules: { enable: false },
      },
      webpackChain(chain) {
        chain.resolve.plugin('tsconfig-paths').use(TsconfigPathsPlugin)
        // the pages share the client library and components: one shared chunk, not a copy each
        chain.optimization.splitChunks({ chunks: 'all', minSize: 20_000 })
      },
    },
  }
  return config
})
