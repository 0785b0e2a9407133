import { View, Text } from '@tarojs/components'

interface ChoiceProps<T extends string> {
  id: string
  options: readonly { value: T; label: string }[]
  value: T
  onChange: (value: T) => void
}

/** One choice among a few, as chips (easier to tap than a picker, and all visible at once). */
export default function Choice<T extends string>({ id, options, value, onChange }: ChoiceProps<T>) {
  return (
    <View className='chips' id={id} role='radiogroup'>
      {options.map((option) => (
        <View
          key={option.value}
          id={`${id}-${option.value}`}
          className={`chip ${option.value === value ? 'chip--on' : ''}`}
          role='radio'
          aria-checked={option.value === value}
          onClick={() => onChange(option.value)}
        >
          <Text>{option.label}</Text>
        </View>
      ))}
    </View>
  )
}
