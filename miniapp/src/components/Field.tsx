import { View, Text } from '@tarojs/components'
import type { PropsWithChildren, ReactNode } from 'react'
import './Field.scss'

interface FieldProps {
  name: string
  label: string
  extra?: ReactNode
  hint?: ReactNode
  error?: string
}

/** A labelled form row with its hint and, when there is one, its error right under it. */
export default function Field({ name, label, extra, hint, error, children }: PropsWithChildren<FieldProps>) {
  return (
    <View className={`field ${error ? 'field--error' : ''}`} id={`field-${name}`}>
      <View className='field__head'>
        <Text className='field__label'>{label}</Text>
        {extra ? <View className='field__extra'>{extra}</View> : null}
      </View>
      {children}
      {hint && !error ? <View className='field__hint'>{hint}</View> : null}
      {error ? (
        <View className='field__error' id={`error-${name}`} role='alert'>
          <Text>{error}</Text>
        </View>
      ) : null}
    </View>
  )
}
