import { defineConfig } from 'vitest/config'

// Unit tests of the client's logic (src/lib): pure TypeScript, no Taro runtime needed.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
})
