export default definePageConfig({ navigationBarTitleText: '好友分享的运势' })
