/* Backbell boot: the block's snippet inlines this (and critical.css) in the page, so the widget costs
   no request while the page loads. It places the app embed's widget at once (it paints in place), then
   loads backbell.js once the page has loaded and painted and the browser is idle — after the theme's
   own files and its largest paint — or at once when a shopper clicks the button first (backbell.js
   then opens it). */
import { placeEmbed } from './embed.js';

(() => {
  if (window.BackbellBoot) return;
  const boot = (window.BackbellBoot = { clicked: null });
  placeEmbed();
  const root = document.querySelector('[data-backbell]');
  if (!root || !root.dataset.script) return;

  let requested = false;
  const load = () => {
    if (requested) return;
    requested = true;
    document.head.append(Object.assign(document.createElement('script'), { src: root.dataset.script }));
  };
  document.addEventListener(
    'click',
    (event) => {
      const opener = event.target.closest?.('[data-backbell] .bb__open');
      if (opener && !window.Backbell) {
        boot.clicked = opener;
        load();
      }
    },
    true,
  );
  // After 'load' (the theme's files and its photo are in), once the browser has reported the page's
  // first paint, after the next frame, in idle time: the request never competes with the page's own
  // files nor sits in front of its largest paint. A frame can be painted long before its paint is
  // reported (a busy phone), hence the observer rather than a frame callback alone.
  // Where the browser reports the largest paint, also the one that follows 'load' (the photo, loaded by
  // then, may paint a frame later), or half a second when none comes (it was painted before).
  const idle = () => (window.requestIdleCallback ? requestIdleCallback(load, { timeout: 2000 }) : setTimeout(load, 50));
  const afterNextFrame = () => requestAnimationFrame(idle);
  const reports = (type) => PerformanceObserver.supportedEntryTypes?.includes(type);
  const afterPaint = (type, buffered, then) => {
    let done = false;
    const go = () => !done && (done = true, observer.disconnect(), then());
    const observer = new PerformanceObserver(go);
    observer.observe({ type, buffered });
    if (!buffered) setTimeout(go, 500);
  };
  const afterLoad = () => {
    if (!reports('paint')) return afterNextFrame();
    afterPaint('paint', true, () => (reports('largest-contentful-paint') ? afterPaint('largest-contentful-paint', false, afterNextFrame) : afterNextFrame()));
  };
  if (document.readyState === 'complete') afterLoad();
  else window.addEventListener('load', afterLoad, { once: true });
})();
