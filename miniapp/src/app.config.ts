export default defineAppConfig({
  pages: [
    'pages/index/index',
    'pages/chart/index',
    'pages/waiting/index',
    'pages/result/index',
    'pages/poster/index',
    'pages/history/index',
  ],
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
