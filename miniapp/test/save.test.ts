import { describe, expect, it } from 'vitest'
import { ALBUM_SCOPE, saveToAlbum, type AlbumApi } from '../src/lib/save'

function album(initial: boolean | undefined, options: { grantOnAsk?: boolean; grantInSettings?: boolean; wantsSettings?: boolean; privacy?: boolean } = {}) {
  const calls: string[] = []
  const api: AlbumApi = {
    privacy: async () => { calls.push('privacy'); return options.privacy ?? true },
    getSetting: async () => { calls.push('getSetting'); return { authSetting: { [ALBUM_SCOPE]: initial } } },
    authorize: async () => {
      calls.push('authorize')
      if (!options.grantOnAsk) throw new Error('authorize:fail auth deny')
    },
    explain: async () => { calls.push('explain'); return options.wantsSettings ?? false },
    openSetting: async () => { calls.push('openSetting'); return { authSetting: { [ALBUM_SCOPE]: options.grantInSettings } } },
    save: async (path) => { calls.push(`save ${path}`) },
  }
  return { api, calls }
}

describe('saving the poster to the album', () => {
  it('asks the first time and saves when allowed', async () => {
    const { api, calls } = album(undefined, { grantOnAsk: true })
    expect(await saveToAlbum(api, 'tmp.png')).toBe('saved')
    expect(calls).toEqual(['privacy', 'getSetting', 'authorize', 'save tmp.png'])
  })

  it('does not save when the first ask is refused', async () => {
    const { api, calls } = album(undefined, { grantOnAsk: false })
    expect(await saveToAlbum(api, 'tmp.png')).toBe('denied')
    expect(calls).toEqual(['privacy', 'getSetting', 'authorize'])
  })

  it('saves at once when already allowed', async () => {
    const { api, calls } = album(true)
    expect(await saveToAlbum(api, 'tmp.png')).toBe('saved')
    expect(calls).toEqual(['privacy', 'getSetting', 'save tmp.png'])
  })

  it('once refused, explains and opens the settings, then saves if allowed there', async () => {
    const allowed = album(false, { wantsSettings: true, grantInSettings: true })
    expect(await saveToAlbum(allowed.api, 'tmp.png')).toBe('saved')
    expect(allowed.calls).toEqual(['privacy', 'getSetting', 'explain', 'openSetting', 'save tmp.png'])

    const stillNo = album(false, { wantsSettings: true, grantInSettings: false })
    expect(await saveToAlbum(stillNo.api, 'tmp.png')).toBe('denied')

    const notNow = album(false, { wantsSettings: false })
    expect(await saveToAlbum(notNow.api, 'tmp.png')).toBe('denied')
    expect(notNow.calls).toEqual(['privacy', 'getSetting', 'explain'])
  })

  it('asks nothing and saves nothing when the user declines WeChat\'s privacy authorization', async () => {
    const { api, calls } = album(undefined, { grantOnAsk: true, privacy: false })
    expect(await saveToAlbum(api, 'tmp.png')).toBe('declined')
    expect(calls).toEqual(['privacy'])
  })
})
