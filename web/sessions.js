// Sessions: a deposit paid once, then requests debited from its balance (macaroon auth).
// This browser keeps the sessions it opened (id and macaroon) in localStorage.

import { get, isMissingRoute, post, store } from "./api.js";
import { el, field, form, invoiceBox, notice, remember, sats, say, when } from "./ui.js";

export const title = "Sessions";

function saved() {
  return store.get("sessions", []);
}

function save(session) {
  const list = saved().filter((s) => s.session_id !== session.session_id);
  list.unshift(session);
  store.set("sessions", list.slice(0, 20));
}

function macaroonOf(id) {
  const found = saved().find((s) => s.session_id === id);
  return found ? found.macaroon : null;
}

export function mount(root, params, life) {
  root.append(
    el("h1", { id: "page-title", text: "Sessions" }),
    el("p", { class: "lead", text: "Pay a deposit once, then ask as often as the balance allows; each request is debited only what it cost. What is left can be withdrawn." }));
  const id = params.get("id");
  if (id) {
    const view = el("div", { "aria-live": "polite" });
    root.append(view, el("p", {}, el("a", { href: "#/sessions", text: "All sessions" })));
    followSession(view, id, life);
    return;
  }
  const { form: node } = form({
    label: "Open a session",
    fields: [
      el("h2", { text: "Open a session" }),
      field({ label: "Deposit (sats)", name: "amount_sats", type: "number", min: 1, step: 1, required: true, value: 5000, inputmode: "numeric" }),
    ],
    submit: "Open session",
    handler: async ({ amount_sats }) => {
      const created = (await post("/api/sessions", { amount_sats: Number(amount_sats) }, { nostr: true })).data;
      save({ session_id: created.session_id, macaroon: null, created_at: new Date().toISOString() });
      location.hash = `#/sessions?id=${encodeURIComponent(created.session_id)}`;
    },
  });
  root.append(node);
  const list = saved();
  if (list.length) {
    root.append(el("h2", { text: "Sessions opened in this browser" }),
      el("ul", { class: "plain" }, list.map((s) => el("li", {},
        el("a", { href: `#/sessions?id=${encodeURIComponent(s.session_id)}` }, el("code", { text: s.session_id })),
        " ", el("span", { class: "muted", text: when(s.created_at) })))));
  }
}

function followSession(view, id, life) {
  const invoiceBoxes = new Map();
  const panel = el("div");
  const status = el("div");
  view.replaceChildren(status, panel);
  let drawnFor = "";
  const poll = async () => {
    try {
      const session = (await get(`/api/sessions/${encodeURIComponent(id)}`)).data;
      if (session.macaroon) save({ ...(saved().find((s) => s.session_id === id) || {}), session_id: id, macaroon: session.macaroon });
      const key = `${session.state}|${session.balance_sats}|${session.pending_topup ? session.pending_topup.payment_hash : ""}`;
      if (key !== drawnFor) {
        drawnFor = key;
        draw(panel, session, life, invoiceBoxes, () => { drawnFor = ""; poll(); });
      }
    } catch (error) {
      say(status, "error", error.message);
      if (error.status === 404) return;
    }
    life.later(1500, poll);
  };
  poll();
  remember("sessions", { id });
}

function invoiceOnce(cache, life, invoice, titleText) {
  if (!cache.has(invoice.payment_hash)) {
    cache.set(invoice.payment_hash, invoiceBox(life, {
      title: titleText, invoice: invoice.payment_request, amount_sats: invoice.amount_sats, expires_at: invoice.expires_at,
    }));
  }
  return cache.get(invoice.payment_hash);
}

function draw(panel, session, life, cache, again) {
  const id = session.session_id;
  const parts = [
    el("h2", {}, "Session ", el("code", { text: id })),
    el("dl", { class: "facts" },
      el("dt", { text: "State" }), el("dd", { class: "session-state", text: session.state }),
      el("dt", { text: "Balance" }), el("dd", { class: "session-balance", text: sats(session.balance_sats) }),
      el("dt", { text: "Deposit" }), el("dd", { text: sats(session.deposit_sats) }),
      el("dt", { text: "Smallest request" }), el("dd", { text: sats(session.min_request_sats) }),
      el("dt", { text: "Expires" }), el("dd", { text: when(session.expires_at) })),
  ];
  if (session.state === "awaiting_payment" && session.invoice) {
    parts.push(invoiceOnce(cache, life, session.invoice, "Pay the deposit"));
  }
  if (session.pending_topup) parts.push(invoiceOnce(cache, life, session.pending_topup, "Pay the top-up"));
  const macaroon = macaroonOf(id);
  if ((session.state === "active" || session.state === "paused") && macaroon) {
    // Kept across redraws: the last answer stays on screen while the balance updates.
    if (!cache.has("request")) cache.set("request", requestForm(id, macaroon, again));
    parts.push(cache.get("request"));
  } else if (session.state === "active" && !macaroon) {
    parts.push(notice("info", "This browser does not hold this session's macaroon, so it cannot spend from it."));
  }
  if (session.state !== "awaiting_payment") {
    parts.push(topupForm(id, again));
    if (macaroon && session.withdrawable_sats > 0) parts.push(withdrawForm(id, macaroon, session, again));
  }
  panel.replaceChildren(...parts);
}

function requestForm(id, macaroon, again) {
  const result = el("div", { class: "session-result", "aria-live": "polite" });
  const { form: node } = form({
    label: "Ask on this session",
    fields: [
      el("h3", { text: "Ask on this session" }),
      field({ label: "Request", name: "request", textarea: true, rows: 4, required: true }),
    ],
    extra: [result],
    submit: "Ask",
    handler: async ({ request }) => {
      const answer = (await post(`/api/sessions/${encodeURIComponent(id)}/request`, { request }, {
        headers: { Authorization: `Bearer ${macaroon}` },
      })).data;
      result.replaceChildren(
        el("pre", { class: "result", tabindex: "0", text: answer.result }),
        el("p", { class: "muted", text: `Charged ${sats(answer.charged_sats)} of ${sats(answer.cost_sats)}; balance ${sats(answer.balance_sats)}.` }));
      again();
    },
  });
  return node;
}

function topupForm(id, again) {
  const { form: node } = form({
    label: "Top up this session",
    fields: [
      el("h3", { text: "Top up" }),
      field({ label: "Amount (sats)", name: "amount_sats", type: "number", min: 1, step: 1, required: true, value: 1000, inputmode: "numeric" }),
    ],
    submit: "Get a top-up invoice",
    handler: async ({ amount_sats }) => {
      await post(`/api/sessions/${encodeURIComponent(id)}/topup`, { amount_sats: Number(amount_sats) }, { accept: [409] });
      again(); // the pending top-up's invoice appears with the session
    },
  });
  return node;
}

function withdrawForm(id, macaroon, session, again) {
  const { form: node } = form({
    label: "Withdraw the balance",
    fields: [
      el("h3", { text: `Withdraw (up to ${sats(session.withdrawable_sats)})` }),
      field({ label: "Lightning invoice (BOLT11)", name: "invoice", textarea: true, rows: 3, required: true, autocomplete: "off", spellcheck: "false" }),
    ],
    submit: "Withdraw",
    handler: async ({ invoice }, status) => {
      try {
        const payout = (await post(`/api/sessions/${encodeURIComponent(id)}/withdraw`, { invoice: invoice.trim() }, {
          headers: { Authorization: `Bearer ${macaroon}` },
        })).data;
        say(status, payout.status === "failed" ? "error" : "ok", `Payout ${payout.status}: ${sats(payout.amount_sats)}.`);
        again();
      } catch (error) {
        if (isMissingRoute(error)) throw new Error("Withdrawals are not available on this server yet.");
        throw error;
      }
    },
  });
  return node;
}
