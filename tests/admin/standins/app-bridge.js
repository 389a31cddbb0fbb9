/* Test stand-in for Shopify's App Bridge (https://cdn.shopify.com/shopifycloud/app-bridge.js),
   which is neither on npm nor reachable from the test machines. Served in its place by the browser
   tests only (Playwright routes the CDN URL here). It provides what Backbell uses:
   - window.shopify.idToken(): a session token minted by the test (window.__backbellMintToken,
     a Playwright-exposed function), fresh on every call;
   - shopify.toast.show(), recorded in window.__toasts and shown at the bottom;
   - <ui-save-bar> with show()/hide(), drawn where Shopify admin draws it (above the app);
   - <s-app-nav>, drawn as the admin's navigation strip;
   - the patch-ID-token page: fetch a token and reload `shopify-reload` with `id_token`. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="shopify-api-key"]');
  var script = document.currentScript;
  window.__toasts = [];
  window.shopify = {
    config: { apiKey: (meta && meta.content) || (script && script.getAttribute("data-api-key")) },
    idToken: function () { return window.__backbellMintToken(); },
    toast: {
      show: function (message, options) {
        window.__toasts.push({ message: message, isError: !!(options && options.isError) });
        var region = document.getElementById("standin-toasts");
        if (!region) {
          region = document.createElement("div");
          region.id = "standin-toasts";
          region.setAttribute("role", "status");
          region.style.cssText = "position:fixed;bottom:16px;left:50%;transform:translateX(-50%);z-index:1000;font:13px sans-serif";
          document.body.appendChild(region);
        }
        var item = document.createElement("div");
        item.textContent = message;
        item.style.cssText = "background:" + (options && options.isError ? "#8e0b21" : "#303030") + ";color:#fff;padding:8px 14px;border-radius:8px;margin-top:6px";
        region.appendChild(item);
        setTimeout(function () { item.remove(); }, 5000);
      }
    },
    saveBar: {
      show: function (id) { return document.getElementById(id).show(); },
      hide: function (id) { return document.getElementById(id).hide(); },
      toggle: function (id) { return document.getElementById(id).toggle(); }
    }
  };

  var params = new URLSearchParams(location.search);
  if (location.pathname === "/app/patch-id-token" && params.get("shopify-reload")) {
    window.shopify.idToken().then(function (token) {
      var target = params.get("shopify-reload");
      location.replace(target + (target.indexOf("?") < 0 ? "?" : "&") + "id_token=" + encodeURIComponent(token));
    });
    return;
  }

  /* <ui-save-bar>: as in the real App Bridge, the bar is drawn by Shopify admin (here: once, fixed
     at the top) and its children are hooks: Save and Discard click the page's <button variant="primary">
     and its other <button>; their `disabled` and `loading` attributes are mirrored on the bar's
     buttons while it shows. show() on a showing bar and hide() on a hidden one change nothing (the
     real bar lives in the admin's frame, so a page calling show() again never disturbs a click on
     it); each real change fires a `show` or `hide` event on the element. */
  class SaveBar extends HTMLElement {
    connectedCallback() { this.style.display = "none"; }
    get showing() { return !!(this._bar && this._bar.isConnected); }
    _draw() {
      var bar = document.createElement("div");
      bar.id = "standin-save-bar";
      bar.setAttribute("role", "region");
      bar.setAttribute("aria-label", "Unsaved changes");
      bar.style.cssText = "position:fixed;top:0;left:0;right:0;height:52px;z-index:999;display:flex;align-items:center;gap:8px;padding:0 16px;background:#1a1a1a;color:#fff;font:600 14px sans-serif";
      var label = document.createElement("span");
      label.textContent = "Unsaved changes";
      label.style.flex = "1";
      bar.appendChild(label);
      var pairs = [];
      this.querySelectorAll("button").forEach(function (hook) {
        var primary = hook.getAttribute("variant") === "primary";
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = primary ? "Save" : "Discard";
        button.style.cssText = "font:600 13px sans-serif;border:0;border-radius:8px;padding:6px 12px;cursor:pointer;" + (primary ? "background:#fff;color:#1a1a1a" : "background:#4a4a4a;color:#fff");
        button.addEventListener("click", function () { if (!button.disabled) hook.click(); });
        bar.appendChild(button);
        pairs.push([hook, button]);
      });
      function mirror() {
        pairs.forEach(function (pair) {
          var loading = pair[0].hasAttribute("loading");
          pair[1].disabled = loading || pair[0].hasAttribute("disabled");
          pair[1].setAttribute("aria-busy", loading ? "true" : "false");
          pair[1].style.opacity = pair[1].disabled ? "0.6" : "1";
        });
      }
      mirror();
      new MutationObserver(mirror).observe(this, { subtree: true, attributes: true, attributeFilter: ["disabled", "loading"] });
      return bar;
    }
    show() {
      if (this.showing) return Promise.resolve();
      if (!this._bar) this._bar = this._draw();
      document.body.appendChild(this._bar);
      this.dispatchEvent(new Event("show"));
      return Promise.resolve();
    }
    hide() {
      if (!this.showing) return Promise.resolve();
      this._bar.remove();
      this.dispatchEvent(new Event("hide"));
      return Promise.resolve();
    }
    toggle() { return this.showing ? this.hide() : this.show(); }
  }
  customElements.define("ui-save-bar", SaveBar);

  class AppNav extends HTMLElement {
    connectedCallback() {
      this.attachShadow({ mode: "open" });
      this.render();
      if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", this.render.bind(this));
    }
    render() {
      var root = this.shadowRoot;
      var links = Array.prototype.slice.call(this.querySelectorAll("s-link"));
      var items = links.filter(function (l) { return l.getAttribute("rel") !== "home"; }).map(function (l) {
        var current = l.getAttribute("aria-current") === "page";
        return '<a href="' + l.getAttribute("href") + '"' + (current ? ' aria-current="page"' : "") + ">" + l.textContent + "</a>";
      });
      root.innerHTML = "<style>nav{display:flex;gap:4px;align-items:center;padding:8px 16px;background:#ebebeb;border-bottom:1px solid #d4d4d4;font:13px -apple-system,Segoe UI,Roboto,sans-serif}" +
        "b{margin-right:12px}a{color:#303030;text-decoration:none;padding:4px 10px;border-radius:8px}a[aria-current]{background:#fff;font-weight:650}</style>" +
        '<nav aria-label="App navigation (Shopify admin stand-in)"><b>Backbell</b>' + items.join("") + "</nav>";
    }
  }
  customElements.define("s-app-nav", AppNav);
})();
