/* Backbell admin: small enhancements over server-rendered pages.
   Every /api call carries a fresh App Bridge session token (shopify.idToken()); a 401 with
   X-Shopify-Retry-Invalid-Session-Request: 1 is retried once with a new token. */
(function () {
  "use strict";
  var RETRY = "X-Shopify-Retry-Invalid-Session-Request";
  var strings = JSON.parse((document.getElementById("bb-strings") || {}).textContent || "{}");

  function say(key) { return strings[key] || key; }

  async function api(path, options) {
    options = options || {};
    for (var attempt = 0; ; attempt++) {
      var token = await window.shopify.idToken();
      var headers = { Authorization: "Bearer " + token, Accept: "application/json" };
      if (options.body !== undefined) headers["Content-Type"] = "application/json";
      var response = await fetch(path, {
        method: options.method || "GET", headers: headers, credentials: "omit",
        body: options.body === undefined ? undefined : JSON.stringify(options.body)
      });
      if (response.status === 401 && response.headers.get(RETRY) === "1" && attempt === 0) continue;
      return response;
    }
  }

  async function errorOf(response) {
    try { return (await response.json()).error || {}; } catch (e) { return {}; }
  }

  function toast(message, isError) {
    if (window.shopify && window.shopify.toast) window.shopify.toast.show(message, { isError: !!isError });
  }

  function valueOf(field) {
    if (field.localName === "s-checkbox" || field.type === "checkbox") return !!field.checked;
    return field.value == null ? "" : String(field.value);
  }

  /* A page whose components did not load still shows its data; say why nothing reacts. */
  function checkComponents() {
    var missing = !window.shopify || typeof window.shopify.idToken !== "function" || !customElements.get("s-page");
    var banner = document.getElementById("bb-not-loaded");
    if (missing && banner) banner.hidden = false;
    return !missing;
  }

  /* CSV: a link cannot carry the session token, so fetch the file and hand it over as a download. */
  function wireCsv() {
    document.querySelectorAll("[data-csv]").forEach(function (button) {
      button.addEventListener("click", async function (event) {
        event.preventDefault();
        var response = await api(button.getAttribute("data-csv"));
        if (!response.ok) return toast(say("common.error_generic"), true);
        var url = URL.createObjectURL(await response.blob());
        var link = document.createElement("a");
        link.href = url;
        link.download = button.getAttribute("data-filename") || "backbell.csv";
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
      });
    });
  }

  /* Settings: the contextual save bar while something changed; a refused value gets its error
     beside its field (red, until the merchant edits it). Only the changed settings are sent. */
  function wireSettings() {
    var form = document.getElementById("bb-settings-form");
    if (!form) return;
    var bar = document.getElementById("bb-save-bar");
    var fields = Array.prototype.slice.call(form.querySelectorAll("[name]"));
    var saved = {};
    function snapshot() { fields.forEach(function (f) { saved[f.getAttribute("name")] = valueOf(f); }); }
    function changed() { return fields.filter(function (f) { return valueOf(f) !== saved[f.getAttribute("name")]; }); }
    /* Only a change of state goes to App Bridge (its bar lives in Shopify admin's frame). */
    function refresh() {
      var dirty = changed().length > 0;
      if (dirty !== !!bar.showing) { if (dirty) bar.show(); else bar.hide(); }
    }
    snapshot();
    fields.forEach(function (f) {
      ["input", "change"].forEach(function (type) {
        f.addEventListener(type, function () { f.removeAttribute("error"); refresh(); });
      });
    });
    var save = document.getElementById("bb-save");
    save.addEventListener("click", async function () {
      if (save.hasAttribute("loading")) return;
      var changes = {};
      changed().forEach(function (f) { changes[f.getAttribute("name")] = settingValue(f); });
      save.setAttribute("loading", "");
      var response;
      try { response = await api("/api/settings", { method: "PATCH", body: changes }); }
      catch (e) { return toast(say("common.error_generic"), true); }
      finally { save.removeAttribute("loading"); }
      if (response.ok) {
        snapshot();
        bar.hide();
        return toast(say("common.saved"));
      }
      var error = await errorOf(response);
      var field = error.field && form.querySelector('[name="' + CSS.escape(error.field) + '"]');
      if (field) field.setAttribute("error", error.message || say("common.error_generic"));
      else toast(error.message || say("common.error_generic"), true);
    });
    document.getElementById("bb-discard").addEventListener("click", function () {
      fields.forEach(function (f) {
        var name = f.getAttribute("name");
        if (f.localName === "s-checkbox") f.checked = saved[name] === true; else f.value = saved[name];
        f.removeAttribute("error");
      });
      bar.hide();
    });
  }

  /* A form value as the setting's JSON: empty = off (null), numbers as numbers, lists split on
     commas. Anything else goes as typed, so the server names what is wrong with it. */
  function settingValue(field) {
    var kind = field.getAttribute("data-kind"), raw = valueOf(field);
    if (kind === "bool") return raw;
    if (kind === "list") return raw.trim() === "" ? null : raw.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    if (kind === "tags") return raw.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    if (kind === "int" || kind === "int_or_off") {
      if (raw.trim() === "") return kind === "int_or_off" ? null : raw;
      return /^-?\d+$/.test(raw.trim()) ? parseInt(raw, 10) : raw;
    }
    return raw;
  }

  /* Demand: the expected date per variant, and "notify now". */
  function wireDemand() {
    document.querySelectorAll("[data-eta-save]").forEach(function (button) {
      button.addEventListener("click", async function () {
        var id = button.getAttribute("data-eta-save");
        var field = document.querySelector('[data-eta-for="' + id + '"]');
        var response = await api("/api/variants/" + id, { method: "PATCH", body: { expected_at: valueOf(field) || null } });
        if (response.ok) { field.removeAttribute("error"); return toast(say("demand.eta_saved")); }
        field.setAttribute("error", (await errorOf(response)).message || say("common.error_generic"));
      });
    });
    document.querySelectorAll("[data-notify]").forEach(function (button) {
      button.addEventListener("click", async function () {
        var response = await api("/api/variants/" + button.getAttribute("data-notify") + "/notify", { method: "POST", body: {} });
        if (response.ok) return toast(say("demand.notify_queued"));
        toast((await errorOf(response)).message || say("common.error_generic"), true);
      });
    });
  }

  /* Subscribers: delete a row (asked for by the merchant's own click). */
  function wireSubscribers() {
    document.querySelectorAll("[data-delete]").forEach(function (button) {
      button.addEventListener("click", async function () {
        var response = await api("/api/subscribers/" + button.getAttribute("data-delete"), { method: "DELETE" });
        if (!response.ok) return toast((await errorOf(response)).message || say("common.error_generic"), true);
        var row = button.closest("s-table-row, tr");
        if (row) row.remove();
        toast(say("subscribers.deleted"));
      });
    });
  }

  /* Messages: a live preview on sample data; save refuses unknown variables beside the field. */
  function wireMessages() {
    var form = document.getElementById("bb-message-form");
    if (!form) return;
    var sample = JSON.parse(form.getAttribute("data-sample"));
    var subject = form.querySelector('[name="subject"]'), body = form.querySelector('[name="text"]');
    function fill(text) {
      return text.replace(/\{(\w+)\}/g, function (whole, name) { return name in sample ? sample[name] : whole; });
    }
    function preview() {
      var s = document.getElementById("bb-preview-subject");
      if (s && subject) s.textContent = fill(valueOf(subject));
      document.getElementById("bb-preview-text").textContent = fill(valueOf(body));
    }
    form.querySelectorAll("[name]").forEach(function (f) {
      f.addEventListener("input", function () { f.removeAttribute("error"); preview(); });
    });
    function payload(withRecipient) {
      var data = { text: valueOf(body) };
      if (subject) data.subject = valueOf(subject);
      if (withRecipient) data.to = valueOf(form.querySelector('[name="to"]'));
      return data;
    }
    async function send(path, method, done) {
      var response = await api(path, { method: method, body: payload(method === "POST") });
      if (response.ok) return done(await response.json());
      var error = await errorOf(response);
      var field = error.field && form.querySelector('[name="' + CSS.escape(error.field) + '"]');
      if (field) field.setAttribute("error", error.message); else toast(error.message || say("common.error_generic"), true);
    }
    var path = form.getAttribute("data-api");
    document.getElementById("bb-message-save").addEventListener("click", function () {
      send(path, "PUT", function () { toast(say("common.saved")); });
    });
    document.getElementById("bb-message-test").addEventListener("click", function () {
      send(path + "/test", "POST", function (answer) { toast(say("messages.test_sent").replace("{to}", answer.to)); });
    });
  }

  /* Home: the theme status when the page was sent before Shopify answered. The fragment comes from
     our own server (Jinja-escaped), in the page's language and with its links' parameters. */
  async function fillThemeStatus() {
    var slot = document.querySelector("#bb-theme-slot[data-api]");
    if (!slot) return;
    var query = new URLSearchParams();
    var here = new URLSearchParams(location.search);
    ["shop", "host", "embedded", "locale"].forEach(function (key) { if (here.get(key)) query.set(key, here.get(key)); });
    try {
      var response = await api(slot.getAttribute("data-api") + "?" + query.toString());
      if (!response.ok) throw new Error("status " + response.status);
      slot.innerHTML = (await response.json()).html;
    } catch (e) {
      var banner = document.getElementById("bb-theme-status");
      if (banner) { banner.setAttribute("tone", "warning"); banner.setAttribute("data-status", "unknown"); banner.textContent = slot.getAttribute("data-failed"); }
    }
    slot.removeAttribute("data-api");
    slot.setAttribute("data-filled", "1");
  }

  function start() {
    if (!checkComponents()) return;
    fillThemeStatus();
    wireCsv();
    wireSettings();
    wireDemand();
    wireSubscribers();
    wireMessages();
    document.documentElement.setAttribute("data-bb-ready", "1");
  }

  window.backbellApi = api;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
