// Ask Timmy: a live estimate while typing → a job → the eval invoice → the job's states →
// the work invoice → the result → a refund form when something is refundable.

import { get, post } from "./api.js";
import { el, field, form, invoiceBox, notice, remember, sats, say, steps, usd } from "./ui.js";

export const title = "Ask Timmy";

const FLOW = ["awaiting_eval_payment", "evaluating", "awaiting_work_payment", "executing", "complete"];
const ENDED = new Set(["complete", "rejected", "failed", "expired"]);
const LABELS = {
  awaiting_eval_payment: "pay the eval fee",
  evaluating: "evaluating",
  awaiting_work_payment: "pay for the work",
  executing: "working",
  complete: "done",
};
const LONG_REQUEST = 1500; // longer requests are estimated by POST (URLs have limits)

export function mount(root, params, life) {
  root.append(
    el("h1", { id: "page-title", text: "Ask Timmy" }),
    el("p", { class: "lead", text: "Say what you need. Timmy charges a small fee to evaluate the request, then quotes the work; you pay each step by Lightning and any overpayment is refundable." }));
  const jobArea = el("div", { class: "job", "aria-live": "polite" });
  const jobId = params.get("job");
  if (jobId) {
    root.append(jobArea);
    followJob(jobArea, jobId, life);
    root.append(el("p", {}, el("a", { href: "#/ask", text: "Ask something else" })));
    return;
  }
  const estimate = el("div", { class: "estimate", "aria-live": "polite" });
  const requestField = field({
    label: "What should Timmy do?", name: "request", textarea: true, required: true,
    rows: 5, maxlength: 20000, placeholder: "Summarise the Lightning Network in three sentences.",
    hint: "The estimate below updates as you type.",
  });
  const input = requestField.querySelector("textarea");
  let timer = null;
  let asked = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => updateEstimate(input.value, estimate, ++asked, () => asked), 350);
  });
  life.onLeave(() => clearTimeout(timer));
  const { form: node } = form({
    label: "Ask Timmy",
    fields: [requestField],
    extra: [estimate],
    submit: "Ask Timmy",
    handler: async ({ request }) => {
      const created = (await post("/api/jobs", { request }, { nostr: true })).data;
      remember("ask", { job: created.job_id });
      node.replaceWith(jobArea);
      showJob(jobArea, created, life);
      followJob(jobArea, created.job_id, life);
    },
  });
  root.append(node);
}

async function updateEstimate(text, region, ticket, latest) {
  if (!text.trim()) {
    region.replaceChildren();
    return;
  }
  try {
    const answer = text.length > LONG_REQUEST
      ? await post("/api/estimate", { request: text }, { nostr: true })
      : await get("/api/estimate?request=" + encodeURIComponent(text), { nostr: true });
    if (ticket !== latest()) return; // a newer keystroke's answer will follow
    const e = answer.data;
    const workUsd = e.btc_price_usd ? (e.estimated_sats * e.btc_price_usd) / 1e8 : null;
    const parts = [
      el("p", {}, "Estimate: ", el("strong", { class: "estimate-sats", text: sats(e.estimated_sats) }),
        ` for the work (≈ ${usd(workUsd)}), plus an evaluation fee of ${sats(e.eval_fee_sats)}.`),
      el("p", { class: "muted", text: `About ${e.token_estimate.input} input and ${e.token_estimate.output} output tokens on ${e.model}.` }),
    ];
    const free = e.identity && e.identity.free_tier;
    if (free && free.serve !== "gate") {
      parts.push(el("p", { class: "good", text: free.serve === "free"
        ? "Your Nostr trust covers this request: the work would be free."
        : `Your Nostr trust covers ${sats(free.absorb_sats)}; you would pay ${sats(free.charge_sats)}.` }));
    }
    region.replaceChildren(...parts);
  } catch (error) {
    if (ticket === latest()) say(region, "error", error.message);
  }
}

function followJob(area, jobId, life) {
  let delay = 700;
  let last = "";
  const poll = async () => {
    if (!life.alive()) return;
    try {
      const job = (await get(`/api/jobs/${encodeURIComponent(jobId)}`)).data;
      const signature = JSON.stringify(job);
      if (signature !== last) {
        last = signature;
        showJob(area, job, life);
        delay = 700;
      } else {
        delay = Math.min(delay * 1.5, 4000);
      }
      if (ENDED.has(job.state)) return;
    } catch (error) {
      area.replaceChildren(notice("error", error.message));
      if (error.status === 404) return;
      delay = 4000;
    }
    life.later(delay, poll);
  };
  poll();
}

/** Invoice boxes own timers: a redraw keeps the box of an invoice already shown. */
const shownInvoices = new WeakMap();

function invoiceFor(area, life, key, invoice, titleText) {
  const cache = shownInvoices.get(area) || new Map();
  shownInvoices.set(area, cache);
  if (!cache.has(key)) {
    cache.set(key, invoiceBox(life, {
      title: titleText,
      invoice: invoice.payment_request,
      amount_sats: invoice.amount_sats,
      expires_at: invoice.expires_at,
    }));
  }
  return cache.get(key);
}

function showJob(area, job, life) {
  const parts = [el("h2", { text: "Your job" }), el("p", { class: "muted" }, "Job ", el("code", { text: job.job_id }))];
  const flowState = FLOW.includes(job.state) ? job.state : null;
  parts.push(steps(FLOW, flowState ?? "", LABELS));
  parts.push(el("p", { class: "state" }, "State: ", el("strong", { class: "job-state", "data-state": job.state, text: job.state.replaceAll("_", " ") })));
  if (job.state === "awaiting_eval_payment" && job.eval_invoice) {
    parts.push(invoiceFor(area, life, "eval:" + job.eval_invoice.payment_hash, job.eval_invoice, "Pay the evaluation fee"));
  }
  if (job.state === "evaluating") parts.push(notice("info", "Timmy is reading your request…"));
  if (job.state === "awaiting_work_payment" && job.work_invoice) {
    parts.push(invoiceFor(area, life, "work:" + job.work_invoice.payment_hash, job.work_invoice, "Pay for the work"));
    if (job.free_tier) parts.push(notice("ok", `The generosity pool covers ${sats(job.absorbed_sats)} of this job.`));
  }
  if (job.state === "executing") parts.push(notice("info", "Timmy is working on it…"));
  if (job.state === "rejected") {
    parts.push(notice("error", "Timmy declined this request."));
    if (job.reason) parts.push(el("blockquote", { class: "reason", text: job.reason }));
  }
  if (job.state === "failed") parts.push(notice("error", (job.error && job.error.message) || "The job failed."));
  if (job.state === "expired") parts.push(notice("error", "An invoice expired before it was paid. Ask again to get a fresh one."));
  if (job.state === "complete") {
    parts.push(el("h3", { text: "Result" }), el("pre", { class: "result", tabindex: "0", text: job.result ?? "" }));
    if (job.free_tier) parts.push(notice("ok", "Served from the generosity pool."));
  }
  const costs = job.costs;
  if (costs && ENDED.has(job.state)) {
    parts.push(el("dl", { class: "facts" },
      el("dt", { text: "Eval fee paid" }), el("dd", { text: sats(costs.eval_paid_sats) }),
      el("dt", { text: "Work paid" }), el("dd", { text: sats(costs.work_paid_sats) }),
      el("dt", { text: "Actual cost" }), el("dd", { text: sats(costs.actual_cost_sats) }),
      costs.model ? [el("dt", { text: "Model" }), el("dd", { text: costs.model })] : null));
  }
  if (job.refundable_sats > 0 && !job.refunded) parts.push(refundForm(job, area, life));
  if (job.refund) {
    parts.push(notice(job.refund.state === "sent" ? "ok" : "info",
      `Refund of ${sats(job.refund.amount_sats)}: ${job.refund.state === "sent" ? "sent" : "pending"}.`));
  }
  area.replaceChildren(...parts);
}

function refundForm(job, area, life) {
  const key = "refund:" + job.job_id;
  const cache = shownInvoices.get(area) || new Map();
  shownInvoices.set(area, cache);
  if (cache.has(key)) return cache.get(key);
  const { form: node } = form({
    label: "Claim your refund",
    fields: [
      el("h3", { text: `Refund available: ${sats(job.refundable_sats)}` }),
      field({
        label: `A Lightning invoice (BOLT11) for exactly ${sats(job.refundable_sats)}`,
        name: "invoice", textarea: true, rows: 3, required: true, autocomplete: "off", spellcheck: "false",
        hint: "Create it in your wallet; Timmy pays it once.",
      }),
    ],
    submit: "Claim refund",
    handler: async ({ invoice }, status) => {
      const answer = (await post(`/api/jobs/${encodeURIComponent(job.job_id)}/refund`, { invoice: invoice.trim() })).data;
      say(status, "ok", `Refund of ${sats(answer.refund.amount_sats)} ${answer.refund.state === "sent" ? "sent" : "is on its way"}.`);
      cache.delete(key);
      life.later(1000, () => followJob(area, job.job_id, life));
    },
  });
  node.classList.add("refund");
  cache.set(key, node);
  return node;
}
