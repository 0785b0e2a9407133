/**
 * WeChat's privacy authorization (base library 2.32.3+, `__usePrivacyCheck__` in app.json).
 *
 * When a privacy-protected API (saving to the album, the clipboard, …) is called, or
 * `wx.requirePrivacyAuthorize` is, before the user agreed to the mini-program's privacy
 * guidelines, WeChat calls the handler registered with `wx.onNeedPrivacyAuthorization` and holds
 * the API until the app answers: it must show its own popup and call `resolve({event: 'agree',
 * buttonId})` from a tap on a `<Button open-type="agreePrivacyAuthorization" id=buttonId>`, or
 * `resolve({event: 'disagree'})`; the held API then goes on or fails.
 *
 * `PrivacyGate` keeps the answers WeChat waits for and tells the popup (components/PrivacyPopup,
 * in every page's Shell) when to show. The `wx` object is passed in: where it or one of its
 * privacy functions is absent (the H5 build, an old base library) nothing is registered and
 * nothing needs authorizing.
 */

export type PrivacyAnswer = { event: 'agree'; buttonId: string } | { event: 'disagree' }
export type PrivacyResolve = (answer: PrivacyAnswer) => void

export interface WxPrivacy {
  onNeedPrivacyAuthorization?: (handler: (resolve: PrivacyResolve, eventInfo?: { referrer?: string }) => void) => void
  requirePrivacyAuthorize?: (options: { success?: () => void; fail?: (error?: unknown) => void }) => void
  getPrivacySetting?: (options: {
    success?: (result: { needAuthorization: boolean; privacyContractName?: string }) => void
    fail?: (error?: unknown) => void
  }) => void
}

/** The id of the popup's agree button (`open-type="agreePrivacyAuthorization"`). */
export const AGREE_BUTTON_ID = 'btn-privacy-agree'

export class PrivacyGate {
  private wx: WxPrivacy | undefined
  private pending: PrivacyResolve[] = []
  private readonly listeners = new Set<(asking: boolean) => void>()

  /**
   * Register the handler with WeChat, once (a second call changes nothing); whether it was
   * registered (false without `wx.onNeedPrivacyAuthorization`).
   */
  install(wx: WxPrivacy | undefined): boolean {
    if (this.wx) return true
    if (typeof wx?.onNeedPrivacyAuthorization !== 'function') return false
    this.wx = wx
    wx.onNeedPrivacyAuthorization((resolve) => {
      this.pending.push(resolve)
      if (this.pending.length === 1) this.notify(true)
    })
    return true
  }

  get installed(): boolean {
    return this.wx !== undefined
  }

  /** Whether WeChat is waiting for the user's answer (the popup shows). */
  asking(): boolean {
    return this.pending.length > 0
  }

  /** Follow `asking()` (called with its new value when it changes); returns the unsubscribe. */
  subscribe(listener: (asking: boolean) => void): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  /** The user tapped the popup's agree button (`buttonId`): every held API goes on. */
  agree(buttonId: string = AGREE_BUTTON_ID): void {
    this.answer({ event: 'agree', buttonId })
  }

  /** The user declined (or closed the popup): every held API fails. */
  disagree(): void {
    this.answer({ event: 'disagree' })
  }

  /** Whether the user still has to agree (false where WeChat has no privacy check). */
  needsAuthorization(): Promise<boolean> {
    const wx = this.wx
    if (typeof wx?.getPrivacySetting !== 'function') return Promise.resolve(false)
    return new Promise((resolve) => {
      wx.getPrivacySetting?.({
        success: (result) => resolve(result.needAuthorization === true),
        fail: () => resolve(false),
      })
    })
  }

  /**
   * Make sure the user agreed before calling a protected API: `wx.requirePrivacyAuthorize`,
   * which shows the popup through the registered handler when needed; whether the user agreed
   * (true where WeChat has no privacy check).
   */
  authorize(): Promise<boolean> {
    const wx = this.wx
    if (typeof wx?.requirePrivacyAuthorize !== 'function') return Promise.resolve(true)
    return new Promise((resolve) => {
      wx.requirePrivacyAuthorize?.({ success: () => resolve(true), fail: () => resolve(false) })
    })
  }

  private answer(answer: PrivacyAnswer): void {
    const pending = this.pending
    if (pending.length === 0) return
    this.pending = []
    for (const resolve of pending) resolve(answer)
    this.notify(false)
  }

  private notify(asking: boolean): void {
    this.listeners.forEach((listener) => listener(asking))
  }
}

/**
 * The consent notice with WeChat's privacy authorization, one question rather than two: while
 * WeChat still needs the user's agreement, the privacy popup (which is the notice, with WeChat's
 * agree button) is the question; otherwise `notice` (the modal) is, followed by
 * `requirePrivacyAuthorize` for the record. Whether the user agreed.
 */
export async function askWithPrivacy(gate: PrivacyGate, notice: () => Promise<boolean>): Promise<boolean> {
  if (await gate.needsAuthorization()) return gate.authorize()
  if (!(await notice())) return false
  return gate.authorize()
}
