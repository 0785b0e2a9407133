/**
 * Saving the poster to the WeChat album with the permission flow: a first save asks for
 * `scope.writePhotosAlbum`; once refused, WeChat never asks again, so the page explains and
 * opens the settings, where the person can allow it. The WeChat calls are passed in, so the flow
 * is tested on its own.
 */
export interface AlbumApi {
  getSetting: () => Promise<{ authSetting: Record<string, boolean | undefined> }>
  authorize: (scope: string) => Promise<void>
  openSetting: () => Promise<{ authSetting: Record<string, boolean | undefined> }>
  /** explain why the permission is needed; resolves true when the person wants to open settings */
  explain: () => Promise<boolean>
  save: (filePath: string) => Promise<void>
}

export const ALBUM_SCOPE = 'scope.writePhotosAlbum'

export type SaveOutcome = 'saved' | 'denied'

export async function saveToAlbum(album: AlbumApi, filePath: string): Promise<SaveOutcome> {
  const { authSetting } = await album.getSetting()
  const granted = authSetting[ALBUM_SCOPE]
  if (granted === undefined) {
    try {
      await album.authorize(ALBUM_SCOPE)
    } catch {
      return 'denied'
    }
  } else if (granted === false) {
    if (!(await album.explain())) return 'denied'
    const after = await album.openSetting()
    if (!after.authSetting[ALBUM_SCOPE]) return 'denied'
  }
  await album.save(filePath)
  return 'saved'
}
