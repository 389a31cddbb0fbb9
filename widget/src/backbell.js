/* Backbell "Notify me" widget, no dependencies. Follows the variant via Dawn's pub/sub,
   Horizon's events, [name=id] changes and ?variant=. boot.js (inlined by the block) loads it once the
   page has loaded, or at once when a shopper clicks the button first; it loads backbell.css only when
   a widget is shown. */
import { CART_FORM, placeEmbed, productForm } from './embed.js';

(() => {
  if (window.Backbell) return;
  const widgets = [];
  window.Backbell = { widgets };

  // backbell.css (the open panel), once, when a widget is first shown; critical.css, inlined by the boot
  // snippet, already styles the button. Resolves when it has loaded (or failed: the form still works).
  let styles = null;
  const loadStyles = (root) =>
    (styles ||= new Promise((resolve) => {
      if (!root.dataset.stylesheet) return resolve();
      const link = Object.assign(document.createElement('link'), { rel: 'stylesheet', href: root.dataset.stylesheet });
      link.onload = link.onerror = resolve;
      document.head.append(link);
    }));

  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (all, key) => (key in values ? values[key] : all));
  const plainId = (id) => String(id == null ? '' : id).split('/').pop();
  const urlVariant = () => new URLSearchParams(location.search).get('variant');
  // Server field → the input showing its message.
  const FIELD_INPUT = { email: 'email', phone: 'phone', country: 'phone', consent: 'consent' };

  class Widget {
    constructor(root) {
      this.root = root;
      const q = (css) => root.querySelector(css);
      this.variants = new Map(JSON.parse(q('[data-bb-variants]').textContent).map((v) => [String(v.id), v]));
      this.text = JSON.parse(q('[data-bb-strings]').textContent);
      this.form = q('[data-bb-form]');
      this.fields = this.form.elements;
      this.panel = q('.bb__panel');
      this.opener = q('.bb__open');
      this.status = q('[data-bb-status]');
      this.meta = q('[data-bb-meta]');
      this.consent = q('[data-bb-consent]');
      this.intro = q('[data-bb-intro]');
      this.opener.addEventListener('click', () => this.toggle(this.panel.hidden));
      q('[data-bb-close]').addEventListener('click', () => this.toggle(false));
      root.addEventListener('keydown', (e) => e.key === 'Escape' && !this.panel.hidden && this.toggle(false));
      this.form.addEventListener('submit', (e) => {
        e.preventDefault();
        this.submit();
      });
      this.form.addEventListener('change', (e) => e.target.name === 'channel' && this.showChannel(e.target.value));
      this.select(this.startingVariant());
    }

    // The variant selected now: the shopper may have changed it before this script loaded (the theme's
    // events are gone by then, but it has updated ?variant= or the product form's input[name=id]).
    startingVariant() {
      const chosen = [urlVariant(), productForm()?.elements.id?.value];
      return chosen.find((id) => this.variants.has(id)) || this.fields.variant_id.value;
    }

    select(rawId) {
      const id = plainId(rawId);
      const variant = this.variants.get(id);
      if (!variant || id === this.current) return;
      this.current = id;
      this.fields.variant_id.value = id;
      const soldOut = !variant.available && variant.policy !== 'continue';
      this.root.hidden = !soldOut;
      this.reset(variant);
      if (!soldOut) return;
      loadStyles(this.root);
      this.loadStatus(id);
    }

    hide() {
      this.current = null;
      this.root.hidden = true;
    }

    reset(variant) {
      this.clearErrors();
      this.say('');
      this.form.hidden = this.intro.hidden = false;
      this.intro.textContent = fill(this.text.intro, { variant: variant.title });
      if (this.meta) this.meta.textContent = '';
    }

    toggle(open) {
      this.wantsOpen = open;
      // The panel's styles come with the widget; a click that beats them waits for them (no unstyled flash).
      if (open) loadStyles(this.root).then(() => this.wantsOpen && this.show(true));
      else this.show(false);
    }

    show(open) {
      this.panel.hidden = !open;
      this.opener.setAttribute('aria-expanded', String(open));
      if (open) (this.form.hidden ? this.status : this.form.querySelector('input:not([type=hidden]):not([tabindex="-1"])')).focus();
      else this.opener.focus();
    }

    showChannel(channel) {
      this.root.querySelectorAll('[data-bb-channel]').forEach((el) => (el.hidden = el.dataset.bbChannel !== channel));
      if (this.consent.dataset.bbConsent === 'sms') this.consent.hidden = channel !== 'sms';
      this.clearErrors();
    }

    payload() {
      const f = this.fields;
      const channel = f.channel.value || 'email';
      const body = { variant_id: Number(this.current), channel, locale: this.root.dataset.locale, website: f.website.value };
      if (channel === 'sms') Object.assign(body, { phone: f.phone.value.trim(), country: f.country.value });
      else body.email = f.email.value.trim();
      if (!this.consent.hidden) body.consent = f.consent.checked;
      return body;
    }

    async submit() {
      if (this.busy) return;
      const body = this.payload();
      this.clearErrors();
      this.setBusy(true);
      let response = null;
      let data = {};
      try {
        response = await fetch(`${this.root.dataset.proxy}/subscriptions`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify(body),
        });
        data = (await response.json().catch(() => null)) || {};
      } catch {
        // Offline: answer() shows the generic error.
      }
      this.setBusy(false);
      // Drop a reply for a variant the shopper left.
      if (body.variant_id == this.current) this.answer(response, data);
    }

    answer(response, data) {
      const code = response ? response.status : 0;
      const kind = { subscribed: 'success', already_subscribed: 'already' }[response && response.ok && data.status];
      if (kind) return this.done(fill(this.text[kind], { variant: this.variants.get(this.current).title }));
      const error = data.error || {};
      if (code === 422 && error.message) return this.fieldError(error.field, error.message);
      this.say(code === 429 ? this.text.error_rate_limited : this.text.error_generic, true);
    }

    done(message) {
      this.form.hidden = this.intro.hidden = true;
      this.say(message, false, true);
      this.status.focus();
    }

    fieldError(field, message) {
      const name = FIELD_INPUT[field];
      if (name === 'consent') this.consent.hidden = false;
      const slot = name && this.root.querySelector(`[data-bb-error="${name}"]`);
      if (!slot || slot.closest('[hidden]')) return this.say(message, true);
      slot.textContent = message;
      const input = this.fields[name];
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }

    clearErrors() {
      this.root.querySelectorAll('[data-bb-error]').forEach((slot) => (slot.textContent = ''));
      this.root.querySelectorAll('[aria-invalid]').forEach((input) => input.removeAttribute('aria-invalid'));
    }

    say(message, isError = false, isSuccess = false) {
      this.status.textContent = message;
      this.status.classList.toggle('bb__status--error', isError);
      this.status.classList.toggle('bb__status--ok', isSuccess);
    }

    setBusy(busy) {
      this.busy = busy;
      const button = this.form.querySelector('.bb__submit');
      button.setAttribute('aria-busy', String(busy));
      button.textContent = busy ? this.text.sending : this.text.submit;
    }

    async loadStatus(id) {
      const { showWaiting, showEta } = this.root.dataset;
      if (!this.meta || (showWaiting !== 'true' && showEta !== 'true')) return;
      try {
        const response = await fetch(`${this.root.dataset.proxy}/variants/${id}`, { headers: { Accept: 'application/json' } });
        const status = response.ok ? await response.json() : {};
        if (this.current === id) this.meta.textContent = this.describe(status, showWaiting === 'true', showEta === 'true');
      } catch {
        // Optional: the form works without them.
      }
    }

    describe(status, showWaiting, showEta) {
      const parts = [];
      const count = Number(status.waiting_count) || 0;
      const locale = this.root.dataset.locale || undefined;
      if (showWaiting && count > 0) {
        const form = new Intl.PluralRules(locale).select(count) === 'one' ? 'waiting_one' : 'waiting_other';
        parts.push(fill(this.text[form], { count: count.toLocaleString(locale) }));
      }
      if (showEta && status.expected_at) {
        const date = new Date(status.expected_at).toLocaleDateString(locale, { month: 'long', day: 'numeric' });
        parts.push(fill(this.text.eta, { date }));
      }
      return parts.join(' · ');
    }
  }

  // An id selects that variant; null or '' is the theme saying the chosen options match no variant.
  const follow = (id) => widgets.forEach((w) => (id ? w.select(id) : w.hide()));
  const followUrl = () => urlVariant() && follow(urlVariant());
  // Only a payload that carries the key speaks for the variant (other themes reuse these event names).
  const followKey = (obj, key, alt) => obj instanceof Object && key in obj && follow((obj[key] || alt)?.id);

  function listenToTheme() {
    document.addEventListener('change', ({ target: t }) => t.name === 'id' && t.closest?.(CART_FORM) && follow(t.value), true);
    // Horizon resolves this promise to {variant, detail: {resource}}; older Horizon sent variant:update.
    document.addEventListener('shopify:product:select', (e) => e.promise?.then((r) => followKey(r, 'variant', r.detail?.resource), () => {}), true);
    document.addEventListener('variant:update', (e) => followKey(e.detail, 'resource'), true);
    for (const method of ['pushState', 'replaceState']) {
      const original = history[method];
      history[method] = function (...args) {
        const result = original.apply(this, args);
        followUrl();
        return result;
      };
    }
    window.addEventListener('popstate', followUrl);
  }

  let dawnHooked = false;
  function listenToDawn() {
    // Dawn declares `subscribe` and `PUB_SUB_EVENTS` as globals in its own deferred scripts.
    if (dawnHooked || typeof subscribe !== 'function' || typeof PUB_SUB_EVENTS !== 'object') return;
    dawnHooked = true;
    subscribe(PUB_SUB_EVENTS.variantChange, (event) => followKey(event?.data, 'variant'));
  }

  function start() {
    placeEmbed();
    document.querySelectorAll('[data-backbell]').forEach((root) => {
      if (!root.backbell) widgets.push((root.backbell = new Widget(root)));
    });
    listenToTheme();
    listenToDawn();
    document.addEventListener('DOMContentLoaded', listenToDawn);
    window.addEventListener('load', listenToDawn);
    // The button a shopper clicked before this script was in (boot.js kept it): open that form now.
    window.BackbellBoot?.clicked?.closest('[data-backbell]')?.backbell?.toggle(true);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
