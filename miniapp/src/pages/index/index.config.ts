export default definePageConfig({ navigationBarTitleText: '赛博运势' })
