// The size offences inside the page shown now (tests/browser/test_sizes.py; H5 keeps earlier
// pages in the DOM, hidden): visible text under minText px, tap targets under minTarget px.
// Sub-pixel layout is allowed half a pixel.
([root, minText, minTarget]) => {
  const page = document.querySelector(root)
  const offences = []
  const shown = (element) => {
    const rect = element.getBoundingClientRect()
    if (rect.width < 1 || rect.height < 1) return null
    for (let e = element; e; e = e.parentElement) {
      const style = getComputedStyle(e)
      if (style.display === 'none' || style.visibility === 'hidden' || Number(style.opacity) === 0) return null
    }
    // drawn off screen (the poster's full-size canvas) is not seen
    if (rect.right <= 0 || rect.left >= window.innerWidth) return null
    return rect
  }
  const label = (element) => {
    const id = element.id ? '#' + element.id : ''
    const cls = typeof element.className === 'string' ? '.' + element.className.trim().split(/\s+/).join('.') : ''
    return `${element.tagName.toLowerCase()}${id}${cls} "${(element.textContent || element.getAttribute('placeholder') || '').trim().slice(0, 24)}"`
  }
  const walker = document.createTreeWalker(page, NodeFilter.SHOW_TEXT)
  const seen = new Set()
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement
    if (!node.textContent.trim() || !element || seen.has(element)) continue
    seen.add(element)
    if (!shown(element)) continue
    const size = parseFloat(getComputedStyle(element).fontSize)
    if (size + 0.5 < minText) offences.push(`text ${size}px: ${label(element)}`)
  }
  for (const field of page.querySelectorAll('input, textarea')) {
    if (!shown(field)) continue
    const size = parseFloat(getComputedStyle(field).fontSize)
    if (size + 0.5 < minText) offences.push(`text ${size}px: ${label(field)}`)
  }
  const tappable = (element) => {
    if (element.matches('button, a[href], input, textarea, select, taro-picker-core, [role=button], [role=radio], [role=checkbox], [role=switch], [role=link]')) return true
    const key = Object.keys(element).find((k) => k.startsWith('__reactProps$'))
    return Boolean(key && element[key] && typeof element[key].onClick === 'function')
  }
  const rowWidth = page.getBoundingClientRect().width
  for (const element of page.querySelectorAll('*')) {
    if (!tappable(element)) continue
    const rect = shown(element)
    if (!rect) continue
    const fullRow = rect.width >= rowWidth * 0.6
    if (rect.height + 0.5 < minTarget || (!fullRow && rect.width + 0.5 < minTarget)) {
      offences.push(`target ${Math.round(rect.width)}×${Math.round(rect.height)}px: ${label(element)}`)
    }
  }
  return offences
}
