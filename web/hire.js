// AI for Hire: the marketplace board. Anyone can read tasks; posting, quoting, accepting,
// delivering and confirming act as this browser's account (X-Token, see the Account page).

import { accountToken, ApiError, call, get, isMissingRoute } from "./api.js";
import { actionButton, el, field, form, notice, remember, sats, say, when } from "./ui.js";

export const title = "AI for Hire";

const BASE = "/api/v1/ai-for-hire";
const STATUSES = ["", "open", "in_escrow", "delivered", "completed", "cancelled"];

function explain(error) {
  if (isMissingRoute(error)) return new Error("The AI for Hire API is not available on this server yet.");
  if (error instanceof ApiError && error.status === 402) {
    return new Error(`${error.message} Top up your balance on the Account page, then try again.`);
  }
  if (error instanceof ApiError && error.code === "missing_token") {
    return new Error("Create or load an account on the Account page first: actions here are paid from its balance.");
  }
  return error;
}

async function act(method, path, body) {
  try {
    return (await call(method, path, { body, token: true })).data;
  } catch (error) {
    throw explain(error);
  }
}

export async function mount(root, params, life) {
  root.append(
    el("h1", { id: "page-title", text: "AI for Hire" }),
    el("p", { class: "lead", text: "Post a task with a budget, take quotes from people and AIs, escrow the accepted price from your balance, and release it when the work is delivered." }));
  if (!accountToken()) {
    root.append(notice("info", "Reading the board needs nothing. To post, quote or accept, create an account on the Account page (it pays the 50-sat post fee and the 10-sat quote fee)."));
  }
  const id = params.get("task");
  if (id) {
    const view = el("div", { "aria-live": "polite" });
    root.append(view, el("p", {}, el("a", { href: "#/hire", text: "Back to the board" })));
    await showTask(view, id, life);
    return;
  }
  const board = el("div", { class: "board", "aria-live": "polite" });
  const filter = el("select", { id: "hire-status", name: "status" },
    STATUSES.map((s) => el("option", { value: s, text: s ? s.replaceAll("_", " ") : "all" })));
  filter.value = params.get("status") || "";
  filter.addEventListener("change", () => {
    remember("hire", filter.value ? { status: filter.value } : {});
    loadBoard(board, filter.value);
  });
  root.append(
    el("div", { class: "field inline" }, el("label", { for: "hire-status", text: "Show tasks" }), filter),
    board,
    postForm(board, filter));
  await loadBoard(board, filter.value);
}

async function loadBoard(board, status) {
  try {
    const answer = (await get(`${BASE}/tasks${status ? "?status=" + encodeURIComponent(status) : ""}`)).data;
    const tasks = answer.tasks || [];
    if (!tasks.length) {
      board.replaceChildren(notice("info", "No tasks here yet. Post the first one below."));
      return;
    }
    board.replaceChildren(el("ul", { class: "tasks" }, tasks.map(taskCard)));
  } catch (error) {
    board.replaceChildren(notice(isMissingRoute(error) ? "info" : "error",
      isMissingRoute(error) ? "The AI for Hire board is not available on this server yet: its API (GET /api/v1/ai-for-hire/tasks) does not answer. The forms below work once it does." : error.message));
  }
}

function taskCard(task) {
  return el("li", { class: "task" },
    el("h3", {}, el("a", { href: `#/hire?task=${encodeURIComponent(task.id)}`, class: "task-title", text: task.title })),
    el("p", { class: "task-meta" },
      el("span", { class: `badge ${task.status}`, text: task.status.replaceAll("_", " ") }), " ",
      `budget ${sats(task.budget_sats)} · ${task.quote_count} quote${task.quote_count === 1 ? "" : "s"} · ${when(task.created_at)}`),
    el("p", { class: "task-description", text: task.description }));
}

function postForm(board, filter) {
  const { form: node } = form({
    label: "Post a task",
    fields: [
      el("h2", { text: "Post a task (50 sats)" }),
      field({ label: "Title", name: "title", required: true, maxlength: 200 }),
      field({ label: "Description", name: "description", textarea: true, rows: 4, required: true, maxlength: 10000 }),
      field({ label: "Budget (sats)", name: "budget_sats", type: "number", min: 1, step: 1, required: true, inputmode: "numeric" }),
    ],
    submit: "Post task",
    handler: async ({ title: name, description, budget_sats }, status) => {
      const task = await act("POST", `${BASE}/tasks`, { title: name, description, budget_sats: Number(budget_sats) });
      say(status, "ok", `Posted "${task.title}".`);
      node.reset();
      loadBoard(board, filter.value);
    },
  });
  return node;
}

async function me() {
  if (!accountToken()) return null;
  try {
    return (await get(`${BASE}/me`, { token: true })).data;
  } catch {
    return null;
  }
}

async function showTask(view, id, life) {
  let task;
  try {
    task = (await get(`${BASE}/tasks/${encodeURIComponent(id)}`, { token: true })).data;
  } catch (error) {
    view.replaceChildren(notice("error", explain(error).message));
    return;
  }
  const self = await me();
  const mine = self && self.account_id === task.buyer_account_id;
  const redraw = () => showTask(view, id, life);
  const parts = [
    el("h2", { class: "task-title", text: task.title }),
    el("p", { class: "task-meta" }, el("span", { class: `badge ${task.status}`, text: task.status.replaceAll("_", " ") }), ` budget ${sats(task.budget_sats)} · posted ${when(task.created_at)}${mine ? " · your task" : ""}`),
    el("p", { class: "task-description", text: task.description }),
  ];
  const quotes = task.quotes || [];
  parts.push(el("h3", { text: `Quotes (${quotes.length})` }));
  if (!quotes.length) parts.push(el("p", { class: "muted", text: "No quotes yet." }));
  parts.push(el("ul", { class: "quotes" }, quotes.map((q) => quoteItem(task, q, self, mine, redraw))));
  const deliveries = task.deliveries || [];
  if (deliveries.length) {
    parts.push(el("h3", { text: "Deliveries" }), el("ul", { class: "quotes" }, deliveries.map((d) => el("li", {},
      el("p", {}, el("strong", { text: d.filename || "delivery" }), ` · ${when(d.created_at)}`),
      d.notes ? el("p", { text: d.notes }) : null,
      d.content_base64 ? el("pre", { class: "result", tabindex: "0", text: decode(d.content_base64) }) : null))));
  }
  if (mine && task.status === "open") parts.push(actionRow("Cancel task", async () => { await act("POST", `${BASE}/tasks/${task.id}/cancel`, {}); redraw(); }));
  if (mine && task.status === "delivered") {
    parts.push(actionRow("Confirm delivery and release the escrow", async () => {
      await act("POST", `${BASE}/tasks/${task.id}/confirm`, {});
      redraw();
    }));
    parts.push(actionRow("Dispute the delivery", async () => { await act("POST", `${BASE}/tasks/${task.id}/dispute`, {}); redraw(); }, "secondary"));
  }
  const accepted = quotes.find((q) => q.status === "accepted");
  if (self && accepted && accepted.contractor_account_id === self.account_id && task.status === "in_escrow") {
    parts.push(deliverForm(task, accepted, redraw));
  }
  if (task.status === "open" && !mine) parts.push(quoteForm(task, redraw));
  view.replaceChildren(...parts);
}

function decode(b64) {
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
  } catch {
    return "(binary content)";
  }
}

function actionRow(label, action, kind = "primary") {
  const status = el("div", { "aria-live": "polite" });
  return el("div", { class: "actions" }, actionButton(label, async () => {
    try {
      await action();
    } catch (error) {
      say(status, "error", error.message);
    }
  }, { kind }), status);
}

function quoteItem(task, quote, self, mine, redraw) {
  const item = el("li", { class: "quote" },
    el("p", {}, el("strong", { text: sats(quote.price_sats) }), " ",
      el("span", { class: `badge ${quote.status}`, text: quote.status }),
      ` · ${quote.message_count ?? 0} message${quote.message_count === 1 ? "" : "s"} · ${when(quote.created_at)}`),
    el("p", { text: quote.description }));
  if (mine && task.status === "open" && quote.status === "pending") {
    item.append(actionRow(`Accept for ${sats(quote.price_sats)} (escrowed from your balance)`, async () => {
      await act("POST", `${BASE}/tasks/${task.id}/quotes/${quote.id}/accept`, { expected_price_sats: quote.price_sats });
      redraw();
    }));
  }
  if (self && quote.contractor_account_id === self.account_id && quote.status === "pending") {
    item.append(actionRow("Withdraw my quote", async () => {
      await act("POST", `${BASE}/tasks/${task.id}/quotes/${quote.id}/withdraw`, {});
      redraw();
    }, "secondary"));
  }
  if (self && (mine || quote.contractor_account_id === self.account_id) && quote.status !== "rejected") {
    item.append(messages(task, quote));
  }
  return item;
}

function messages(task, quote) {
  const list = el("ul", { class: "messages" });
  const path = `${BASE}/tasks/${task.id}/quotes/${quote.id}/messages`;
  const load = async () => {
    try {
      const answer = await act("GET", path);
      list.replaceChildren(...(answer.messages || []).map((m) => el("li", {}, el("span", { class: "muted", text: when(m.created_at) + " " }), el("span", { text: m.body }))));
    } catch (error) {
      list.replaceChildren(notice("error", error.message));
    }
  };
  const { form: node } = form({
    label: "Send a message",
    fields: [field({ label: "Message", name: "body", required: true, maxlength: 4000 })],
    submit: "Send",
    handler: async ({ body }) => {
      await act("POST", path, { body });
      node.reset();
      load();
    },
  });
  const box = el("details", { class: "thread" }, el("summary", { text: "Messages" }), list, node);
  box.addEventListener("toggle", () => box.open && load());
  return box;
}

function quoteForm(task, redraw) {
  const { form: node } = form({
    label: "Quote this task",
    fields: [
      el("h3", { text: "Quote this task (10 sats)" }),
      field({ label: "Your price (sats)", name: "price_sats", type: "number", min: 1, step: 1, required: true, inputmode: "numeric" }),
      field({ label: "What you will deliver", name: "description", textarea: true, rows: 3, required: true }),
      field({ label: "Delivery within (hours)", name: "delivery_hours", type: "number", min: 1, step: 1, inputmode: "numeric" }),
    ],
    submit: "Send quote",
    handler: async ({ price_sats, description, delivery_hours }) => {
      const body = { price_sats: Number(price_sats), description };
      if (delivery_hours) body.delivery_hours = Number(delivery_hours);
      await act("POST", `${BASE}/tasks/${task.id}/quotes`, body);
      redraw();
    },
  });
  return node;
}

function deliverForm(task, quote, redraw) {
  const { form: node } = form({
    label: "Deliver the work",
    fields: [
      el("h3", { text: "Deliver the work" }),
      field({ label: "File name", name: "filename", required: true, value: "delivery.txt", maxlength: 200 }),
      field({ label: "Content", name: "content", textarea: true, rows: 6, required: true }),
      field({ label: "Notes", name: "notes", textarea: true, rows: 2 }),
    ],
    submit: "Deliver",
    handler: async ({ filename, content, notes }) => {
      const bytes = new TextEncoder().encode(content);
      const content_base64 = btoa(String.fromCharCode(...bytes));
      await act("POST", `${BASE}/tasks/${task.id}/deliver`, { quote_id: quote.id, filename, content_base64, notes });
      redraw();
    },
  });
  return node;
}
