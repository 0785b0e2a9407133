export default definePageConfig({ navigationBarTitleText: '运势解读', enableShareAppMessage: true })
