/* Backbell boot: the block's snippet inlines this (and critical.css) in the page, so the widget costs
   no request while the page loads. It places the app embed's widget at once (it paints in place), then
   loads backbell.js once the page has loaded and painted, its largest paint has settled and the
   browser is idle — after the theme's own files — or at once when a shopper clicks the button first
   (backbell.js then opens it). */
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
  // first paint and its largest paint has settled, after the next frame, in idle time: the request never
  // competes with the page's own files nor sits in front of its largest paint. A frame can be painted
  // long before its paint is reported (a busy phone), hence the observers rather than a frame callback.
  // The largest paint has settled when half a second passes with no new candidate: the photo, loaded by
  // 'load', may paint a frame later, after a heading repainted in its web font; three seconds at most,
  // for a page whose candidates keep coming.
  const idle = () => (window.requestIdleCallback ? requestIdleCallback(load, { timeout: 2000 }) : setTimeout(load, 50));
  const afterNextFrame = () => requestAnimationFrame(idle);
  const reports = (type) => PerformanceObserver.supportedEntryTypes?.includes(type);
  const afterFirstPaint = (then) => {
    const observer = new PerformanceObserver(() => (observer.disconnect(), then()));
    observer.observe({ type: 'paint', buffered: true });
  };
  const afterLargestPaint = (then) => {
    let done = false;
    let quiet = setTimeout(() => go(), 500);
    const go = () => !done && (done = true, clearTimeout(quiet), observer.disconnect(), then());
    const observer = new PerformanceObserver(() => (clearTimeout(quiet), (quiet = setTimeout(go, 500))));
    observer.observe({ type: 'largest-contentful-paint', buffered: false });
    setTimeout(go, 3000);
  };
  const afterLoad = () => {
    if (!reports('paint')) return afterNextFrame();
    afterFirstPaint(() => (reports('largest-contentful-paint') ? afterLargestPaint(afterNextFrame) : afterNextFrame()));
  };
  if (document.readyState === 'complete') afterLoad();
  else window.addEventListener('load', afterLoad, { once: true });
})();
