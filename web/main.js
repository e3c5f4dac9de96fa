// The router: one page at a time under <main>, chosen by the URL's hash (#/ask, #/account…).

import { hasDevWallet } from "./api.js";
import { renderIdentity } from "./nostr.js";
import { el } from "./ui.js";
import * as ask from "./ask.js";
import * as account from "./account.js";
import * as sessions from "./sessions.js";
import * as models from "./models.js";
import * as hire from "./hire.js";
import * as node from "./node.js";
import * as apidoc from "./apidoc.js";

const PAGES = { ask, account, sessions, models, hire, node, api: apidoc };
const main = document.getElementById("main");
let current = null;

/** What a page gets to schedule work with; everything stops when the page is left. */
function lifetime() {
  const timers = new Set();
  const leaving = [];
  let alive = true;
  return {
    alive: () => alive,
    every(ms, fn) {
      const id = setInterval(() => alive && fn(), ms);
      timers.add(() => clearInterval(id));
    },
    later(ms, fn) {
      const id = setTimeout(() => alive && fn(), ms);
      timers.add(() => clearTimeout(id));
    },
    onLeave(fn) {
      leaving.push(fn);
    },
    end() {
      alive = false;
      timers.forEach((stop) => stop());
      leaving.forEach((fn) => fn());
    },
  };
}

function parseHash() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [name, query = ""] = hash.split("?");
  return { name: PAGES[name] ? name : "ask", params: new URLSearchParams(query) };
}

function route() {
  const { name, params } = parseHash();
  if (current) current.life.end();
  const life = lifetime();
  const page = PAGES[name];
  const section = el("section", { class: "page", "aria-labelledby": "page-title" });
  main.replaceChildren(section);
  current = { name, life };
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${page.title} — Timmy`;
  Promise.resolve(page.mount(section, params, life)).catch((error) => {
    section.append(el("p", { class: "notice error", role: "alert", text: error.message || String(error) }));
  });
}

// The skip link moves the focus; it must not change the hash (the hash picks the page).
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

window.addEventListener("hashchange", () => {
  route();
  main.focus({ preventScroll: false });
});
route();
renderIdentity(document.getElementById("identity"));
hasDevWallet().then((available) => {
  if (available) document.getElementById("devmode").textContent = "Development mode: invoices can be paid with the dev wallet.";
});
