export default definePageConfig({ navigationBarTitleText: '正在推演' })
