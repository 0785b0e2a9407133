/** Synchronous key-value storage: Taro's storage in the app (services/storage.ts), a Map in tests. */
export interface KeyValueStore {
  get<T>(key: string): T | undefined
  set<T>(key: string, value: T): void
  remove(key: string): void
}

export class MemoryStore implements KeyValueStore {
  readonly data = new Map<string, string>()

  get<T>(key: string): T | undefined {
    const raw = this.data.get(key)
    return raw === undefined ? undefined : (JSON.parse(raw) as T)
  }

  set<T>(key: string, value: T): void {
    this.data.set(key, JSON.stringify(value))
  }

  remove(key: string): void {
    this.data.delete(key)
  }
}
