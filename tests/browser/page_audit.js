// What tests/browser/test_pages.py checks in a page beyond axe-core: injected next to axe,
// called as window.pageAudit.<check>(). Each check returns what is wrong, in words and
// selectors a person can act on, or an empty result.
window.pageAudit = (() => {
  const name = (e) => e.tagName.toLowerCase() + (e.id ? `#${e.id}` : '') +
    (e.name ? `[name=${e.name}]` : '') + [...e.classList].map((c) => `.${c}`).join('');

  // Colours as [r, g, b, alpha], painted over one another, and WCAG's contrast ratio.
  const rgba = (value) => {
    const n = (value.match(/[\d.]+/g) || []).map(Number);
    return n.length < 3 ? [0, 0, 0, 0] : [n[0], n[1], n[2], n.length > 3 ? n[3] : 1];
  };
  const over = (top, below) => top.slice(0, 3).map((c, i) => c * top[3] + below[i] * (1 - top[3]));
  const behind = (element) => {
    const layers = [];
    for (let e = element; e; e = e.parentElement) {
      const colour = rgba(getComputedStyle(e).backgroundColor);
      if (colour[3] > 0) layers.push(colour);
      if (colour[3] === 1) break;
    }
    return layers.reduceRight((below, top) => over(top, below), [255, 255, 255]);
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';

  // The page is wider than the screen: how wide, and the innermost elements sticking out.
  const overflow = () => {
    const width = document.documentElement.clientWidth;
    const scrollWidth = document.documentElement.scrollWidth;
    if (scrollWidth <= width) return null;
    // Its box, or the content spilling out of it (a long word, a wide <pre>).
    const sticksOut = (e) => e.getBoundingClientRect().left + e.scrollWidth > width + 0.5;
    const culprits = [...document.body.querySelectorAll('*')]
      .filter((e) => sticksOut(e) && ![...e.children].some(sticksOut))
      .slice(0, 5).map(name);
    return {scrollWidth, width, culprits};
  };

  // WCAG 1.4.11 (non-text contrast, AA), which axe leaves out: a text field must stand out
  // from what surrounds it, by its border or by its own fill, at 3:1.
  const faintFields = () => {
    const fields = document.querySelectorAll(
      'input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=file])' +
      ':not([type=range]):not([type=submit]):not([type=button]):not([type=color]),' +
      'select, textarea');
    const faint = [];
    for (const field of [...fields].filter(shown)) {
      const style = getComputedStyle(field);
      const outside = behind(field.parentElement);
      let best = ratio(over(rgba(style.backgroundColor), outside), outside);
      for (const side of ['Top', 'Right', 'Bottom', 'Left']) {
        if (parseFloat(style[`border${side}Width`]) < 1) continue;
        best = Math.max(best, ratio(over(rgba(style[`border${side}Color`]), outside), outside));
      }
      if (best < 3) faint.push(`${name(field)} ${best.toFixed(2)}:1`);
    }
    return faint;
  };

  // WCAG 2.4.7 (focus visible) with 1.4.11's 3:1 for the ring: focus each control as the
  // keyboard would (the caller has pressed Tab once, so script focus counts as keyboard
  // focus for :focus-visible) and read its outline, or a box-shadow standing in for one.
  const unseenFocus = () => {
    const controls = document.querySelectorAll(
      'a[href], button, input:not([type=hidden]), select, textarea, summary, ' +
      '[tabindex]:not([tabindex="-1"])');
    const unseen = [];
    // Controls styled alike are focused once (a gallery's fifty tile links are one look):
    // each focus costs a style recalculation.
    const looks = new Set();
    const look = (e) => [e.tagName, e.className, e.type, e.getAttribute('style'),
      e.parentElement.tagName, e.parentElement.className].join('|');
    for (const control of [...controls].filter((e) => shown(e) && !e.disabled)) {
      if (looks.has(look(control))) continue;
      looks.add(look(control));
      control.focus({preventScroll: true});
      if (document.activeElement !== control) continue;
      const style = getComputedStyle(control);
      if (style.boxShadow !== 'none') continue;
      const width = parseFloat(style.outlineWidth) || 0;
      if (style.outlineStyle === 'none' || width < 1) {
        unseen.push(`${name(control)} (no outline)`);
        continue;
      }
      const outside = behind(control.parentElement);
      const contrast = ratio(over(rgba(style.outlineColor), outside), outside);
      if (contrast < 3) unseen.push(`${name(control)} (outline ${contrast.toFixed(2)}:1)`);
    }
    if (document.activeElement) document.activeElement.blur();  // no ring in screenshots
    return [...new Set(unseen)];
  };

  // Everything folded away (<details>: advanced fields, technical details, the phone menu)
  // opened, to be audited too, and folded back as it was.
  let folded = [];
  const unfold = () => {
    folded = [...document.querySelectorAll('details:not([open])')];
    folded.forEach((d) => { d.open = true; });
  };
  const refold = () => folded.forEach((d) => { d.open = false; });

  return {overflow, faintFields, unseenFocus, unfold, refold};
})();
