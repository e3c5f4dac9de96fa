// DOM helpers. Text from the server or from users is only ever set as textContent.

import { hasDevWallet, payWithDevWallet } from "./api.js";

/**
 * el("p", {class: "x", text: "hello"}, child, ...) — attributes, `text` (textContent), `on`
 * ({click: fn}), then children (nodes or strings, added as text).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "on") for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    else if (key === "class") node.className = value;
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let ids = 0;
export function uid(prefix = "f") {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A labelled form field: {label, name, type, ...attributes}; answers the wrapping element. */
export function field({ label, hint, textarea = false, ...attrs }) {
  const id = attrs.id || uid(attrs.name || "f");
  const hintId = hint ? id + "-hint" : undefined;
  const input = el(textarea ? "textarea" : "input", { ...attrs, id, "aria-describedby": hintId });
  return el("div", { class: "field" },
    el("label", { for: id, text: label }),
    input,
    hint ? el("p", { class: "hint", id: hintId, text: hint }) : null);
}

export function notice(kind, text) {
  return el("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status", text });
}

/** Replace the content of a live region with one message (or nothing). */
export function say(region, kind, text) {
  region.replaceChildren(text ? notice(kind, text) : "");
}

export function sats(n) {
  if (n === null || n === undefined) return "—";
  return `${Number(n).toLocaleString("en-US")} sat${Number(n) === 1 ? "" : "s"}`;
}

export function usd(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return "—";
  const value = Number(n);
  return value < 0.01 && value > 0 ? `$${value.toPrecision(2)}` : `$${value.toFixed(2)}`;
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

export function remaining(ms) {
  if (ms <= 0) return "expired";
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}h ${String(m).padStart(2, "0")}m` : `${m}:${s}`;
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** A button that runs an async action once at a time, with its own status line. */
export function actionButton(label, action, { kind = "primary" } = {}) {
  const button = el("button", { type: "button", class: kind, text: label });
  button.addEventListener("click", async () => {
    if (button.disabled) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      await action();
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  });
  return button;
}

/**
 * A form whose submit runs `handler(values)` (an object of the named fields); a thrown error's
 * message appears in the form's alert region. Answers {form, status}.
 */
export function form({ label, fields, submit, handler, extra = [] }) {
  const status = el("div", { class: "status", "aria-live": "polite" });
  const button = el("button", { type: "submit", class: "primary", text: submit });
  const node = el("form", { "aria-label": label, novalidate: false }, ...fields, ...extra,
    el("div", { class: "actions" }, button), status);
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!node.reportValidity()) return;
    const values = Object.fromEntries(new FormData(node).entries());
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    status.replaceChildren();
    try {
      await handler(values, status);
    } catch (error) {
      say(status, "error", error.message || String(error));
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  });
  return { form: node, status };
}

/**
 * A Lightning invoice: QR code (drawn by our /api/qr.svg), amount, expiry countdown, the text
 * with a copy button, a wallet link and, in development mode, "Pay with dev wallet".
 * `onPaid(payment)` runs after the dev wallet paid it (payment has the preimage).
 */
export function invoiceBox(life, { title, invoice, amount_sats, expires_at, onPaid }) {
  const countdown = el("span", { class: "countdown" });
  const copied = el("span", { class: "copied", "aria-live": "polite" });
  const text = el("code", { class: "bolt11", text: invoice });
  const devSlot = el("div", { class: "dev-slot" });
  const status = el("div", { class: "status", "aria-live": "polite" });
  const box = el("section", { class: "invoice", "aria-label": title || "Lightning invoice" },
    el("h3", { text: title || "Pay this Lightning invoice" }),
    el("div", { class: "invoice-body" },
      el("img", {
        class: "qr", src: "/api/qr.svg?data=" + encodeURIComponent(invoice),
        alt: `QR code of a Lightning invoice for ${sats(amount_sats)}`, width: 220, height: 220,
      }),
      el("div", { class: "invoice-info" },
        el("p", { class: "amount" }, el("strong", { text: sats(amount_sats) })),
        expires_at ? el("p", {}, "Expires in ", countdown) : null,
        el("div", { class: "bolt11-wrap" }, text),
        el("div", { class: "actions" },
          actionButton("Copy invoice", async () => {
            copied.textContent = (await copyText(invoice)) ? "Copied." : "Select the text above and copy it.";
          }, { kind: "secondary" }),
          el("a", { class: "button secondary", href: "lightning:" + invoice, text: "Open in wallet" }),
          devSlot),
        copied, status)));
  if (expires_at) {
    const deadline = Date.parse(expires_at);
    const tick = () => {
      const left = deadline - Date.now();
      countdown.textContent = remaining(left);
      box.classList.toggle("expired", left <= 0);
    };
    tick();
    life.every(1000, tick);
  }
  hasDevWallet().then((available) => {
    if (!available || !life.alive()) return;
    const pay = actionButton("Pay with dev wallet", async () => {
      try {
        const payment = await payWithDevWallet(invoice);
        say(status, "ok", "Paid with the development wallet.");
        pay.remove();
        if (onPaid) await onPaid(payment);
      } catch (error) {
        say(status, "error", error.message);
      }
    }, { kind: "dev" });
    devSlot.replaceChildren(pay);
  });
  return box;
}

/** An ordered list of states with the current one marked (aria-current="step"). */
export function steps(names, current, labels = {}) {
  const index = names.indexOf(current);
  return el("ol", { class: "steps", "aria-label": "Progress" },
    names.map((name, i) => el("li", {
      class: i < index ? "done" : i === index ? "current" : "todo",
      "aria-current": i === index ? "step" : undefined,
      text: labels[name] || name.replaceAll("_", " "),
    })));
}

/** A table from rows: columns [{label, value(row) → text or Node}]. */
export function table(caption, columns, rows) {
  return el("div", { class: "table-wrap" },
    el("table", {},
      el("caption", { text: caption }),
      el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col", text: c.label })))),
      el("tbody", {}, rows.map((row) => el("tr", {}, columns.map((c) => {
        const value = c.value(row);
        return el("td", { class: c.numeric ? "num" : undefined }, value instanceof Node ? value : String(value ?? "—"));
      }))))));
}

/** Download text as a file (the bootstrap SSH key): a blob URL, no server round trip. */
export function downloadText(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/octet-stream" }));
  const link = el("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Change the hash's query without leaving the page (a job id, so that a reload resumes). */
export function remember(name, params) {
  const query = new URLSearchParams(params).toString();
  history.replaceState(null, "", `#/${name}${query ? "?" + query : ""}`);
}
