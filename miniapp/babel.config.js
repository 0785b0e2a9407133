// babel-preset-taro: https://docs.taro.zone/docs/next/babel-config
// The WeChat build targets the JavaScript engines of old phones (iOS 9's JavaScriptCore, Android
// 5's WebView: Taro's own defaults for mini-programs), so its output carries no ES2020 syntax
// (`??`, `?.`) even where DevTools' "ES6 → ES5" is off (project.config.json `es6: false`). The
// H5 build follows package.json's browserslist (modern browsers).
const weapp = process.env.TARO_ENV === 'weapp'

module.exports = {
  presets: [
    ['taro', {
      framework: 'react',
      ts: true,
      compiler: 'webpack5',
      ...(weapp ? { targets: { ios: '9', android: '5' } } : {}),
    }],
  ],
}
