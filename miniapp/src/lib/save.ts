/**
 * Saving the poster to the WeChat album with the permission flow: first WeChat's privacy
 * authorization (the album is a privacy-protected API: `privacy` shows the app's privacy popup
 * when the user has not agreed yet, lib/wxprivacy.ts); then a first save asks for
 * `scope.writePhotosAlbum`; once refused, WeChat never asks again, so the page explains and
 * opens the settings, where the person can allow it. The WeChat calls are passed in, so the flow
 * is tested on its own.
 */
export interface AlbumApi {
  /** WeChat's privacy authorization; resolves whether the user agreed (or needed not to) */
  privacy: () => Promise<boolean>
  getSetting: () => Promise<{ authSetting: Record<string, boolean | undefined> }>
  authorize: (scope: string) => Promise<void>
  openSetting: () => Promise<{ authSetting: Record<string, boolean | undefined> }>
  /** explain why the permission is needed; resolves true when the person wants to open settings */
  explain: () => Promise<boolean>
  save: (filePath: string) => Promise<void>
}

export const ALBUM_SCOPE = 'scope.writePhotosAlbum'

/** `declined`: the user did not agree to the privacy guidelines (nothing was asked or saved). */
export type SaveOutcome = 'saved' | 'denied' | 'declined'

export async function saveToAlbum(album: AlbumApi, filePath: string): Promise<SaveOutcome> {
  if (!(await album.privacy())) return 'declined'
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
