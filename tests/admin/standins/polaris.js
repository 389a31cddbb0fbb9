/* Test stand-in for Shopify's Polaris web components (https://cdn.shopify.com/shopifycloud/polaris-1.js),
   which are neither on npm nor reachable from the test machines. Served in its place by the browser
   tests only. Each element takes the attributes Polaris documents (heading, label, name, value,
   error, details, tone, variant, href, type …), looks close enough for screenshots, and behaves
   the way Backbell relies on: form fields are form-associated with a `value` property and fire
   `input` and `change`; `error` shows in red under the field; s-button type="submit" submits its
   form; s-button/s-link with href navigate (target="_top" leaves the iframe). */
(function () {
  "use strict";
  var FONT = "font:13px/1.45 -apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,sans-serif;color:#303030";
  var TONES = { success: "#cdfee1", warning: "#fff1c2", critical: "#fedad9", info: "#e0f0ff", neutral: "#e3e3e3" };

  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; });
  }

  class Element extends HTMLElement {
    connectedCallback() {
      if (!this.shadowRoot) this.attachShadow({ mode: "open" });
      this.render();
      // Upgraded at the opening tag while the page is parsed: children (s-option …) come later.
      if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", this.render.bind(this));
    }
    attributeChangedCallback() { if (this.shadowRoot) this.render(); }
  }

  function simple(name, attributes, html) {
    customElements.define(name, class extends Element {
      static get observedAttributes() { return attributes; }
      render() { this.shadowRoot.innerHTML = html(this); }
    });
  }

  simple("s-page", ["heading"], function (el) {
    return "<style>:host{display:block;" + FONT + "}div{max-width:62rem;margin:0 auto;padding:20px 16px}h1{font-size:20px;font-weight:650;margin:4px 0 16px}</style>" +
      "<div><h1>" + esc(el.getAttribute("heading")) + "</h1><slot></slot></div>";
  });
  simple("s-section", ["heading"], function (el) {
    var heading = el.getAttribute("heading");
    return "<style>:host{display:block;background:#fff;border-radius:12px;padding:16px;margin-bottom:16px;box-shadow:0 1px 0 rgba(26,26,26,.07),0 0 0 1px rgba(0,0,0,.04)}h2{font-size:14px;font-weight:650;margin:0 0 12px}</style>" +
      (heading ? "<h2>" + esc(heading) + "</h2>" : "") + "<slot></slot>";
  });
  simple("s-banner", ["tone", "heading"], function (el) {
    var tone = TONES[el.getAttribute("tone")] || TONES.info;
    return "<style>:host{display:block;margin:0 0 8px}div{background:" + tone + ";border-radius:8px;padding:10px 14px}</style><div role=\"status\"><slot></slot></div>";
  });
  simple("s-badge", ["tone"], function (el) {
    var tone = TONES[el.getAttribute("tone")] || TONES.neutral;
    return "<style>span{display:inline-block;background:" + tone + ";border-radius:8px;padding:0 8px;font-size:12px;font-weight:550}</style><span><slot></slot></span>";
  });
  simple("s-text", ["tone"], function () { return "<slot></slot>"; });
  simple("s-option", ["value"], function () { return ""; });

  /* Tables: light DOM laid out as a table, like Polaris' own. */
  var tableStyle = document.createElement("style");
  tableStyle.textContent = "s-table{display:table;width:100%;border-collapse:collapse}" +
    "s-table-header-row,s-table-row{display:table-row}s-table-body{display:table-row-group}" +
    "s-table-header,s-table-cell{display:table-cell;padding:8px;border-bottom:1px solid #ebebeb;vertical-align:middle}" +
    "s-table-header{font-weight:550;color:#616161;background:#f7f7f7}";
  document.head.appendChild(tableStyle);
  ["s-table", "s-table-header-row", "s-table-header", "s-table-body", "s-table-row", "s-table-cell"].forEach(function (name) {
    customElements.define(name, class extends HTMLElement {});
  });

  function go(el) {
    var href = el.getAttribute("href");
    if (!href) return false;
    var target = el.getAttribute("target");
    (target === "_top" ? window.top : window).location.assign(href);
    return true;
  }

  customElements.define("s-button", class extends Element {
    static get observedAttributes() { return ["variant", "tone", "disabled", "loading"]; }
    connectedCallback() {
      super.connectedCallback();
      this.addEventListener("click", function () {
        if (this.hasAttribute("disabled") || go(this)) return;
        var form = this.closest("form");
        if (this.getAttribute("type") === "submit" && form) form.requestSubmit();
      });
    }
    render() {
      var variant = this.getAttribute("variant"), critical = this.getAttribute("tone") === "critical";
      var colours = variant === "primary" ? "background:#303030;color:#fff;border-color:#303030"
        : critical ? "background:#fff;color:#8e0b21;border-color:#e3e3e3" : "background:#fff;color:#303030;border-color:#d4d4d4";
      this.shadowRoot.innerHTML = "<style>:host{display:inline-block}button{" + FONT + ";font-weight:550;" + colours +
        ";border:1px solid;border-radius:8px;padding:5px 12px;cursor:pointer;box-shadow:0 1px 0 rgba(0,0,0,.08)}" +
        "button:disabled{opacity:.45;cursor:default}</style>" +
        "<button type=\"button\"" + (this.hasAttribute("disabled") ? " disabled" : "") + "><slot></slot></button>";
    }
  });
  customElements.define("s-link", class extends Element {
    static get observedAttributes() { return ["href"]; }
    connectedCallback() {
      super.connectedCallback();
      this.addEventListener("click", function (event) { event.preventDefault(); go(this); });
    }
    render() {
      this.shadowRoot.innerHTML = "<style>a{color:#005bd3;text-decoration:underline;cursor:pointer}</style><a href=\"" +
        esc(this.getAttribute("href")) + "\"><slot></slot></a>";
    }
  });

  /* Form fields: form-associated, `value`/`checked` properties, `error` in red under the field. */
  class Field extends Element {
    static get formAssociated() { return true; }
    static get observedAttributes() { return ["label", "error", "details", "placeholder", "disabled"]; }
    constructor() { super(); this._internals = this.attachInternals(); }
    get name() { return this.getAttribute("name"); }
    get value() { return this._value == null ? (this.getAttribute("value") || "") : this._value; }
    set value(v) { this._value = v == null ? "" : String(v); var input = this._input(); if (input) input.value = this._value; this._sync(); }
    _input() { return this.shadowRoot && this.shadowRoot.querySelector("input,select,textarea"); }
    _sync() { this._internals.setFormValue(this.value); }
    formResetCallback() { this.value = this.getAttribute("value") || ""; }
    control(id) {
      var type = this.localName === "s-number-field" ? "number" : this.localName === "s-date-field" ? "date" : this.localName === "s-search-field" ? "search" : "text";
      if (this.localName === "s-text-area") return '<textarea id="' + id + '" rows="' + (this.getAttribute("rows") || 4) + '"></textarea>';
      return '<input id="' + id + '" type="' + type + '" placeholder="' + esc(this.getAttribute("placeholder")) + '">';
    }
    render() {
      var id = "f", error = this.getAttribute("error"), details = this.getAttribute("details");
      var hadFocus = !!this.shadowRoot.activeElement;
      this.shadowRoot.innerHTML = "<style>:host{display:block;" + FONT + "}label{display:block;margin-bottom:4px}" +
        "input,select,textarea{box-sizing:border-box;width:100%;" + FONT + ";padding:6px 10px;border:1px solid " + (error ? "#c70a24" : "#8a8a8a") +
        ";border-radius:8px;background:" + (error ? "#fee9e8" : "#fdfdfd") + "}.details{color:#616161;margin-top:4px}" +
        ".error{color:#8e0b21;margin-top:4px;display:flex;gap:4px}.error::before{content:'!';font-weight:700}</style>" +
        '<label for="' + id + '">' + esc(this.getAttribute("label")) + "</label>" + this.control(id) +
        (details ? '<div class="details">' + esc(details) + "</div>" : "") +
        (error ? '<div class="error" role="alert">' + esc(error) + "</div>" : "");
      var input = this._input(), self = this;
      input.value = this.value;
      if (error) input.setAttribute("aria-invalid", "true");
      if (hadFocus) input.focus();
      input.addEventListener("input", function () { self._value = input.value; self._sync(); });
      input.addEventListener("change", function () { self._value = input.value; self._sync(); self.dispatchEvent(new Event("change", { bubbles: true })); });
      this._sync();
    }
  }
  ["s-text-field", "s-number-field", "s-date-field", "s-search-field", "s-text-area"].forEach(function (name) {
    customElements.define(name, class extends Field {});
  });
  customElements.define("s-select", class extends Field {
    get value() {
      if (this._value != null) return this._value;
      var chosen = this.querySelector("s-option[selected]") || this.querySelector("s-option");
      return this.getAttribute("value") || (chosen ? chosen.getAttribute("value") : "");
    }
    set value(v) { this._value = String(v); var s = this._input(); if (s) s.value = this._value; this._sync(); }
    control(id) {
      return '<select id="' + id + '">' + Array.prototype.map.call(this.querySelectorAll("s-option"), function (o) {
        return '<option value="' + esc(o.getAttribute("value")) + '">' + esc(o.textContent) + "</option>";
      }).join("") + "</select>";
    }
  });
  customElements.define("s-checkbox", class extends Field {
    get checked() { return this._checked == null ? this.hasAttribute("checked") : this._checked; }
    set checked(v) { this._checked = !!v; var i = this._input(); if (i) i.checked = this._checked; this._sync(); }
    get value() { return this.getAttribute("value") || "on"; }
    _sync() { this._internals.setFormValue(this.checked ? this.value : null); }
    formResetCallback() { this.checked = this.hasAttribute("checked"); }
    render() {
      var error = this.getAttribute("error"), details = this.getAttribute("details"), self = this;
      this.shadowRoot.innerHTML = "<style>:host{display:block;" + FONT + "}label{display:flex;gap:8px;align-items:center}.details{color:#616161;margin:4px 0 0 24px}.error{color:#8e0b21;margin:4px 0 0 24px}</style>" +
        '<label><input type="checkbox">' + esc(this.getAttribute("label")) + "</label>" +
        (details ? '<div class="details">' + esc(details) + "</div>" : "") + (error ? '<div class="error" role="alert">' + esc(error) + "</div>" : "");
      var input = this.shadowRoot.querySelector("input");
      input.checked = this.checked;
      input.addEventListener("change", function () { self._checked = input.checked; self._sync(); self.dispatchEvent(new Event("change", { bubbles: true })); });
      this._sync();
    }
  }
  );
})();
