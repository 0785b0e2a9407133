export default definePageConfig({ navigationBarTitleText: '你的命盘' })
