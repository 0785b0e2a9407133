import type { PropsWithChildren } from 'react'
import { installPrivacyGate } from './services/app'
import './app.scss'

if (process.env.TARO_ENV === 'h5') require('./styles/h5.scss')

// WeChat's privacy authorization is answered by the app's popup from the start (weapp only)
installPrivacyGate()

function App({ children }: PropsWithChildren) {
  return children
}

export default App
