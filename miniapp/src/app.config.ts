export default defineAppConfig({
  pages: [
    'pages/index/index',
    'pages/chart/index',
    'pages/waiting/index',
    'pages/result/index',
    'pages/poster/index',
    'pages/history/index',
  ],
  window: {
    backgroundTextStyle: 'light',
    backgroundColor: '#120d24',
    navigationBarBackgroundColor: '#120d24',
    navigationBarTitleText: '赛博运势',
    navigationBarTextStyle: 'white',
  },
})
