export default defineAppConfig({
  pages: [
    'pages/index/index',
    'pages/chart/index',
    'pages/waiting/index',
    'pages/result/index',
    'pages/poster/index',
    'pages/history/index',
    'pages/privacy/index',
    'pages/shared/index',
  ],
  // WeChat: private pages stay out of WeChat search (src/sitemap.json), and the privacy APIs
  // (wx.requirePrivacyAuthorize, onNeedPrivacyAuthorization) are on.
  ...(process.env.TARO_ENV === 'weapp' ? { sitemapLocation: 'sitemap.json', __usePrivacyCheck__: true } : {}),
  // H5 only: no slide between pages (instant, like a web page; screenshots never catch a half
  // slide). Not a WeChat app.json key, so the weapp build leaves it out.
  ...(process.env.TARO_ENV === 'h5' ? { animation: false } : {}),
  window: {
    backgroundTextStyle: 'light',
    backgroundColor: '#120d24',
    navigationBarBackgroundColor: '#120d24',
    navigationBarTitleText: '赛博运势',
    navigationBarTextStyle: 'white',
  },
})
