import { Canvas, Image, Text, View } from '@tarojs/components'
import Taro, { useReady, useRouter } from '@tarojs/taro'
import { useState } from 'react'
import Failure from '../../components/Failure'
import Shell from '../../components/Shell'
import { formatDate, readingTitle, scoreBand } from '../../lib/format'
import { t, type MessageKey } from '../../lib/i18n'
import { POSTER_HEIGHT, POSTER_WIDTH, drawPoster, type Ctx2D, type PosterData } from '../../lib/poster'
import { saveToAlbum } from '../../lib/save'
import { ASPECTS, type Language } from '../../lib/types'
import { history, privacyGate, useLanguage } from '../../services/app'
import './index.scss'

const SCALE = 2 // 375 × 667 drawn at 2× → a 750 × 1334 picture

type CanvasNode = {
  width: number
  height: number
  getContext: (type: '2d') => unknown
  toDataURL?: (type: string) => string
}

/** The poster's words, in the reading's own language (its summary and lucky items are in it). */
function posterData(id: string): PosterData | undefined {
  const entry = history.get(id)
  if (!entry?.result) return undefined
  const { result, request } = entry
  const lang: Language = request.language
  const pillars = (entry.pillars ?? []).map((pillar) => ({
    ...pillar,
    label: t(lang, `pillar${pillar.key[0].toUpperCase()}${pillar.key.slice(1)}` as MessageKey),
  }))
  return {
    appName: t(lang, 'appName'),
    appNameAlt: lang === 'zh-CN' ? 'CyberFortune' : '赛博运势',
    title: readingTitle(request.topic, request.period, lang),
    name: request.profile.name,
    dateText: formatDate(request.date ?? new Date(entry.createdAt).toISOString().slice(0, 10), lang),
    pillars,
    overall: result.scores.overall,
    overallLabel: t(lang, 'overallScore'),
    band: scoreBand(result.scores.overall, lang),
    summary: result.summary,
    scores: ASPECTS.map((aspect) => ({ label: t(lang, `aspect_${aspect}` as MessageKey), value: result.scores[aspect] })),
    lucky: t(lang, 'posterLucky', { color: result.lucky.color, number: result.lucky.number, direction: result.lucky.direction }),
    footer: t(lang, 'posterFooter'),
    seed: id,
  }
}

function canvasNode(): Promise<CanvasNode | undefined> {
  return new Promise((resolve) => {
    Taro.createSelectorQuery()
      .select('#poster-canvas')
      .fields({ node: true, size: true })
      .exec((res: { node?: CanvasNode }[]) => {
        const node = res?.[0]?.node
        if (node) return resolve(node)
        if (process.env.TARO_ENV === 'h5') {
          const element = document.querySelector('#poster-canvas canvas') as unknown as CanvasNode | null
          return resolve(element ?? undefined)
        }
        resolve(undefined)
      })
  })
}

export default function PosterPage() {
  const lang = useLanguage()
  const id = useRouter().params.id ?? ''
  const [image, setImage] = useState<string | undefined>()
  const [node, setNode] = useState<CanvasNode | undefined>()
  const [message, setMessage] = useState<string | undefined>()
  const [failed, setFailed] = useState(false)

  const draw = async () => {
    const data = posterData(id)
    const canvas = await canvasNode()
    if (!data || !canvas) {
      setFailed(true)
      return
    }
    canvas.width = POSTER_WIDTH * SCALE
    canvas.height = POSTER_HEIGHT * SCALE
    const ctx = canvas.getContext('2d') as Ctx2D & { scale: (x: number, y: number) => void; setTransform?: (...a: number[]) => void }
    ctx.setTransform?.(1, 0, 0, 1, 0, 0)
    ctx.scale(SCALE, SCALE)
    drawPoster(ctx, data)
    setNode(canvas)
    if (process.env.TARO_ENV === 'h5' && canvas.toDataURL) {
      setImage(canvas.toDataURL('image/png'))
    } else {
      const { tempFilePath } = await Taro.canvasToTempFilePath({ canvas: canvas as never, fileType: 'png' } as never)
      setImage(tempFilePath)
    }
  }

  useReady(() => {
    void draw()
  })

  const save = async () => {
    if (!image || !node) return
    if (process.env.TARO_ENV === 'h5') {
      const link = document.createElement('a')
      link.href = image
      link.download = `cyberfortune-${id}.png`
      document.body.appendChild(link)
      link.click()
      link.remove()
      setMessage(t(lang, 'posterDownloaded'))
      return
    }
    const outcome = await saveToAlbum({
      privacy: () => privacyGate.authorize(),
      getSetting: async () => ({ authSetting: { ...(await Taro.getSetting()).authSetting } as Record<string, boolean | undefined> }),
      authorize: async (scope) => { await Taro.authorize({ scope: scope as never }) },
      openSetting: async () => ({ authSetting: { ...(await Taro.openSetting()).authSetting } as Record<string, boolean | undefined> }),
      explain: async () => (await Taro.showModal({
        title: t(lang, 'albumDeniedTitle'),
        content: t(lang, 'albumDeniedBody'),
        confirmText: t(lang, 'albumOpenSettings'),
        cancelText: t(lang, 'close'),
      })).confirm,
      save: async (filePath) => { await Taro.saveImageToPhotosAlbum({ filePath }) },
    }, image).catch(() => 'failed' as const)
    const messages = { saved: 'posterSaved', denied: 'albumDeniedBody', declined: 'posterPrivacyDeclined', failed: 'posterFailed' } as const
    setMessage(t(lang, messages[outcome]))
    if (outcome === 'saved') void Taro.showToast({ title: t(lang, 'posterSaved'), icon: 'success' })
  }

  return (
    <Shell page='poster' title={t(lang, 'posterTitle')} subtitle={<Text>{t(lang, process.env.TARO_ENV === 'h5' ? 'posterHintH5' : 'posterHint')}</Text>}>
      {failed ? (
        <Failure error={undefined} message={t(lang, 'posterFailed')} lang={lang} onRetry={() => { setFailed(false); void draw() }} id='poster-failure' />
      ) : null}
      <View className='poster'>
        {/* drawn off screen at full size; the picture below is what people see and long-press */}
        <Canvas
          type='2d'
          id='poster-canvas'
          className='poster__canvas'
          {...({ width: String(POSTER_WIDTH * SCALE), height: String(POSTER_HEIGHT * SCALE) } as object)}
          style={{ width: `${POSTER_WIDTH}px`, height: `${POSTER_HEIGHT}px` }}
        />
        {image ? (
          <Image id='poster-image' className='poster__image' src={image} mode='aspectFit' showMenuByLongpress />
        ) : (
          <View className='poster__placeholder'><Text>{t(lang, 'posterDrawing')}</Text></View>
        )}
      </View>
      {message ? <View className='notice' id='poster-message'><Text>{message}</Text></View> : null}
      <View className='actions poster__actions'>
        <View className={`btn-primary ${image ? '' : 'btn-primary--disabled'}`} id='btn-save' onClick={save}>
          <Text>{process.env.TARO_ENV === 'h5' ? t(lang, 'posterDownload') : t(lang, 'posterSave')}</Text>
        </View>
        <View className='btn-ghost' onClick={() => Taro.navigateBack().catch(() => Taro.redirectTo({ url: `/pages/result/index?id=${id}` }))}>
          <Text>{t(lang, 'close')}</Text>
        </View>
      </View>
    </Shell>
  )
}
