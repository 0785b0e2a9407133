import type { PropsWithChildren } from 'react'
import './app.scss'

if (process.env.TARO_ENV === 'h5') require('./styles/h5.scss')

function App({ children }: PropsWithChildren) {
  return children
}

export default App
