// Account: a prepaid balance behind a token (tmy_…). The token is created by the first top-up,
// kept in this browser's localStorage and shown once; balance, top-ups, withdrawals.

import { accountToken, ApiError, devWalletInvoice, get, hasDevWallet, isMissingRoute, post, store } from "./api.js";
import { actionButton, el, field, form, invoiceBox, notice, sats, say, table, when } from "./ui.js";

export const title = "Account";

export function mount(root, _params, life) {
  root.append(el("h1", { id: "page-title", text: "Account" }));
  const body = el("div");
  root.append(body);
  draw(body, life);
}

function draw(body, life) {
  const token = accountToken();
  body.replaceChildren();
  if (!token) {
    body.append(
      el("p", { class: "lead", text: "An account is a balance in sats that pays for requests without an invoice each time. Top it up to create one: this browser keeps its token." }),
      topupForm(life, "Create an account", (shown) => {
        // The invoice and the token stay on top; the account appears under them.
        const rest = el("div");
        body.replaceChildren(shown, rest);
        drawAccount(rest, life);
      }),
      importForm(body, life));
    return;
  }
  drawAccount(body, life);
}

function drawAccount(body, life) {
  const summary = el("div", { class: "account-summary", "aria-live": "polite" });
  body.append(summary, topupForm(life, "Top up"), withdrawForm(summary, life), forgetButton(body, life));
  refresh(summary, life);
  life.every(3000, () => refresh(summary, life, { quiet: true }));
}

async function refresh(summary, _life, { quiet = false } = {}) {
  try {
    const account = (await get("/api/v1/account", { token: true })).data;
    const parts = [
      el("h2", { text: "Balance" }),
      el("p", { class: "balance" }, el("strong", { class: "balance-sats", text: sats(account.balance_sats) })),
      el("dl", { class: "facts" },
        el("dt", { text: "Account" }), el("dd", {}, el("code", { text: account.account_id })),
        el("dt", { text: "Trust tier" }), el("dd", { text: account.trust_tier }),
        account.nostr_pubkey ? [el("dt", { text: "Nostr" }), el("dd", {}, el("code", { text: account.nostr_pubkey }))] : null,
        el("dt", { text: "Created" }), el("dd", { text: when(account.created_at) })),
    ];
    if (account.pending_topups && account.pending_topups.length) {
      parts.push(table("Top-ups awaiting payment", [
        { label: "Amount", value: (t) => sats(t.amount_sats), numeric: true },
        { label: "Expires", value: (t) => when(t.expires_at) },
      ], account.pending_topups));
    }
    if (account.payouts && account.payouts.length) {
      parts.push(table("Latest payouts", [
        { label: "Amount", value: (p) => sats(p.amount_sats), numeric: true },
        { label: "Status", value: (p) => p.status || p.state },
        { label: "When", value: (p) => when(p.created_at) },
      ], account.payouts));
    }
    summary.replaceChildren(...parts);
  } catch (error) {
    if (quiet) return;
    summary.replaceChildren(notice("error", error instanceof ApiError && error.status === 401
      ? "This browser's token names no account on this server. Forget it below, or import another."
      : error.message));
  }
}

function topupForm(life, label, onNewAccount = null) {
  const shown = el("div", { class: "topup-result" });
  const { form: node } = form({
    label,
    fields: [
      el("h2", { text: label }),
      field({ label: "Amount (sats)", name: "amount_sats", type: "number", min: 1, step: 1, required: true, value: 1000, inputmode: "numeric" }),
    ],
    submit: label === "Top up" ? "Get a top-up invoice" : "Create and top up",
    handler: async ({ amount_sats }) => {
      const answer = await post("/api/v1/topup", { amount_sats: Number(amount_sats) }, { token: true, nostr: !accountToken(), accept: [402] });
      const challenge = answer.data;
      const parts = [];
      if (challenge.token) {
        store.set("account_token", challenge.token);
        parts.push(tokenWarning(challenge.token));
      }
      parts.push(invoiceBox(life, {
        title: `Top up ${sats(challenge.amount_sats)}`,
        invoice: challenge.invoice,
        amount_sats: challenge.amount_sats,
        expires_at: challenge.expires_at,
        onPaid: async (payment) => {
          // Claiming with the preimage credits at once; polling the account would too.
          const claimed = (await post("/api/v1/topup/claim", { preimage: payment.preimage }, { token: true })).data;
          // Credited once, by whichever saw the payment first (this claim or the balance poll).
          shown.append(notice("ok", `Top-up credited. Balance: ${sats(claimed.balance_sats)}.`));
        },
      }));
      parts.push(el("p", { class: "muted", text: "Paid from another wallet? The balance updates by itself within a few seconds." }));
      shown.replaceChildren(...parts);
      if (challenge.token && onNewAccount) onNewAccount(shown);
    },
  });
  return el("div", {}, node, shown);
}

function tokenWarning(token) {
  const box = el("section", { class: "token-once", role: "alert", "aria-label": "Your account token" },
    el("h3", { text: "Save your account token now" }),
    el("p", { text: "It is the only key to this balance and it is shown this once. This browser keeps a copy, but clearing the site's data loses it. Anyone holding it can spend the balance." }),
    el("code", { class: "token", text: token }));
  box.append(el("div", { class: "actions" },
    actionButton("Copy token", async () => {
      try {
        await navigator.clipboard.writeText(token);
      } catch { /* the text is selectable */ }
    }, { kind: "secondary" }),
    el("button", { type: "button", class: "secondary", text: "I have saved it", on: { click: () => box.remove() } })));
  return box;
}

function importForm(body, life) {
  const { form: node } = form({
    label: "Use an existing token",
    fields: [
      el("h2", { text: "Already have a token?" }),
      field({ label: "Account token", name: "token", required: true, pattern: "tmy_[A-Za-z0-9_\\-]{43}", autocomplete: "off", spellcheck: "false" }),
    ],
    submit: "Use this token",
    handler: async ({ token }) => {
      const check = await get("/api/v1/account", { headers: { "X-Token": token.trim() } });
      store.set("account_token", token.trim());
      say(node.querySelector(".status"), "ok", `Account ${check.data.account_id} loaded.`);
      draw(body, life);
    },
  });
  return node;
}

function withdrawForm(summary, life) {
  const { form: node } = form({
    label: "Withdraw",
    fields: [
      el("h2", { text: "Withdraw" }),
      field({ label: "Lightning invoice (BOLT11) to pay out", name: "invoice", textarea: true, rows: 3, required: true, autocomplete: "off", spellcheck: "false" }),
      field({ label: "Amount (sats, optional: must match the invoice)", name: "amount_sats", type: "number", min: 1, step: 1, inputmode: "numeric" }),
    ],
    submit: "Withdraw",
    handler: async ({ invoice, amount_sats }, status) => {
      const body = { invoice: invoice.trim() };
      if (amount_sats) body.amount_sats = Number(amount_sats);
      try {
        const payout = (await post("/api/v1/account/withdraw", body, { token: true })).data;
        const text = { paid: "Paid", pending: "Sent; the outcome is pending", failed: "Failed; the balance was credited back" }[payout.status] || payout.status;
        say(status, payout.status === "failed" ? "error" : "ok",
          `${text}: ${sats(payout.amount_sats)} (fee ${sats(payout.fee_sats)}). Balance: ${sats(payout.balance_sats)}.`);
        refresh(summary, life);
      } catch (error) {
        if (isMissingRoute(error)) throw new Error("Withdrawals are not available on this server yet.");
        throw error;
      }
    },
  });
  hasDevWallet().then((present) => {
    if (!present) return;
    const invoiceField = node.querySelector("textarea[name=invoice]");
    const amountField = node.querySelector("input[name=amount_sats]");
    const status = node.querySelector(".status");
    const fill = el("button", {
      type: "button", class: "secondary", text: "Make an invoice with the dev wallet",
      on: {
        click: async () => {
          const amount = Number(amountField.value);
          if (!Number.isInteger(amount) || amount < 1) {
            say(status, "error", "Enter the amount to withdraw first.");
            amountField.focus();
            return;
          }
          try {
            invoiceField.value = await devWalletInvoice(amount);
            say(status, "ok", `The dev wallet made an invoice for ${sats(amount)}.`);
          } catch (error) {
            say(status, "error", error.message || String(error));
          }
        },
      },
    });
    node.querySelector(".actions").append(fill);
  });
  return node;
}

function forgetButton(body, life) {
  return el("p", {}, el("button", {
    type: "button", class: "link danger", text: "Forget this browser's token",
    on: {
      click: () => {
        if (!confirm("Forget the token? Without a copy, the balance cannot be spent from here.")) return;
        store.remove("account_token");
        draw(body, life);
      },
    },
  }));
}
