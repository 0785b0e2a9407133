import { describe, expect, it } from 'vitest'
import { ALBUM_SCOPE, saveToAlbum } from '../src/lib/save'
import { AGREE_BUTTON_ID, PrivacyGate, askWithPrivacy, type PrivacyAnswer, type PrivacyResolve } from '../src/lib/wxprivacy'

/**
 * WeChat's side of the privacy authorization, as its documentation describes it: a protected API
 * (or `requirePrivacyAuthorize`) called before the user agreed goes to the registered handler and
 * waits for its answer; an agreement counts only from the popup's agree button.
 */
class FakeWx {
  agreed = false
  registrations = 0
  readonly answers: PrivacyAnswer[] = []
  readonly saved: string[] = []
  private handler: ((resolve: PrivacyResolve) => void) | undefined

  onNeedPrivacyAuthorization(handler: (resolve: PrivacyResolve) => void): void {
    this.registrations += 1
    this.handler = handler
  }

  getPrivacySetting(options: { success?: (result: { needAuthorization: boolean }) => void }): void {
    options.success?.({ needAuthorization: !this.agreed })
  }

  requirePrivacyAuthorize(options: { success?: () => void; fail?: (error?: unknown) => void }): void {
    this.protectedCall(() => options.success?.(), (error) => options.fail?.(error))
  }

  /** `wx.saveImageToPhotosAlbum`, a protected API */
  saveImageToPhotosAlbum(filePath: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.protectedCall(() => { this.saved.push(filePath); resolve() }, reject)
    })
  }

  private protectedCall(go: () => void, fail: (error: unknown) => void): void {
    if (this.agreed) return go()
    if (!this.handler) return fail({ errMsg: 'privacy: no handler' })
    this.handler((answer) => {
      this.answers.push(answer)
      if (answer.event === 'agree' && answer.buttonId === AGREE_BUTTON_ID) {
        this.agreed = true
        go()
      } else {
        fail({ errMsg: 'privacy permission is not authorized', errno: 104 })
      }
    })
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

describe("WeChat's privacy authorization", () => {
  it('registers its handler once, and nothing where WeChat has no privacy API (H5)', () => {
    const wx = new FakeWx()
    const gate = new PrivacyGate()
    expect(gate.install(wx)).toBe(true)
    expect(gate.install(wx)).toBe(true)
    expect(wx.registrations).toBe(1)

    const h5 = new PrivacyGate()
    expect(h5.install(undefined)).toBe(false)
    expect(h5.install({})).toBe(false)
    expect(h5.installed).toBe(false)
  })

  it('shows the popup while WeChat waits, and the agree button lets the held API go on', async () => {
    const wx = new FakeWx()
    const gate = new PrivacyGate()
    gate.install(wx)
    const seen: boolean[] = []
    gate.subscribe((asking) => seen.push(asking))

    expect(await gate.needsAuthorization()).toBe(true)
    const agreed = gate.authorize()
    expect(gate.asking()).toBe(true)
    expect(seen).toEqual([true])
    gate.agree()
    expect(await agreed).toBe(true)
    expect(wx.answers).toEqual([{ event: 'agree', buttonId: AGREE_BUTTON_ID }])
    expect(gate.asking()).toBe(false)
    expect(seen).toEqual([true, false])

    // agreed once: no popup any more
    expect(await gate.needsAuthorization()).toBe(false)
    expect(await gate.authorize()).toBe(true)
    expect(seen).toEqual([true, false])
  })

  it('answers every API held at once, and a decline fails them', async () => {
    const wx = new FakeWx()
    const gate = new PrivacyGate()
    gate.install(wx)
    const first = gate.authorize()
    const second = wx.saveImageToPhotosAlbum('poster.png').then(() => 'saved', () => 'refused')
    expect(gate.asking()).toBe(true)
    gate.disagree()
    expect(await first).toBe(false)
    expect(await second).toBe('refused')
    expect(wx.answers).toEqual([{ event: 'disagree' }, { event: 'disagree' }])
    expect(wx.saved).toEqual([])
    expect(gate.asking()).toBe(false)
    gate.disagree() // nothing waits: nothing happens
    expect(wx.answers).toHaveLength(2)
  })

  it('needs nothing where WeChat has no privacy check', async () => {
    const gate = new PrivacyGate()
    gate.install({ onNeedPrivacyAuthorization: () => undefined })
    expect(await gate.needsAuthorization()).toBe(false)
    expect(await gate.authorize()).toBe(true)
  })

  it("wires the poster's save to the album through the popup", async () => {
    const wx = new FakeWx()
    const gate = new PrivacyGate()
    gate.install(wx)
    const album = {
      privacy: () => gate.authorize(),
      getSetting: async () => ({ authSetting: { [ALBUM_SCOPE]: true } }),
      authorize: async () => undefined,
      openSetting: async () => ({ authSetting: {} }),
      explain: async () => false,
      save: (path: string) => wx.saveImageToPhotosAlbum(path),
    }

    const declined = saveToAlbum(album, 'a.png')
    await settle()
    expect(gate.asking()).toBe(true)
    gate.disagree()
    expect(await declined).toBe('declined')
    expect(wx.saved).toEqual([])

    const saved = saveToAlbum(album, 'b.png')
    await settle()
    expect(gate.asking()).toBe(true)
    gate.agree()
    expect(await saved).toBe('saved')
    expect(wx.saved).toEqual(['b.png'])
  })

  it('asks for consent once: the popup while WeChat needs the agreement, else the notice', async () => {
    const wx = new FakeWx()
    const gate = new PrivacyGate()
    gate.install(wx)
    let notices = 0
    const notice = async () => { notices += 1; return true }

    const first = askWithPrivacy(gate, notice)
    await settle()
    expect(gate.asking()).toBe(true)
    gate.agree()
    expect(await first).toBe(true)
    expect(notices).toBe(0) // the popup was the notice

    expect(await askWithPrivacy(gate, notice)).toBe(true)
    expect(notices).toBe(1)
    expect(await askWithPrivacy(gate, async () => false)).toBe(false)

    // H5: the notice alone
    const h5 = new PrivacyGate()
    h5.install(undefined)
    expect(await askWithPrivacy(h5, notice)).toBe(true)
    expect(await askWithPrivacy(h5, async () => false)).toBe(false)
  })

  it('a declined popup is a declined consent', async () => {
    const wx = new FakeWx()
    const gate = new PrivacyGate()
    gate.install(wx)
    const asked = askWithPrivacy(gate, async () => true)
    await settle()
    gate.disagree()
    expect(await asked).toBe(false)
  })
})
