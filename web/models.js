// Models & prices: GET /api/v1/catalog (sats and USD at the current BTC price); when the
// server has no catalog yet, the OpenAI-compatible GET /v1/models; else a notice.

import { get, isMissingRoute } from "./api.js";
import { el, notice, table } from "./ui.js";

export const title = "Models & prices";

export async function mount(root) {
  root.append(el("h1", { id: "page-title", text: "Models & prices" }));
  const area = el("div", { "aria-live": "polite" }, el("p", { class: "muted", text: "Loading the catalog…" }));
  root.append(area);
  try {
    const catalog = (await get("/api/v1/catalog")).data;
    area.replaceChildren(...renderCatalog(catalog));
    return;
  } catch (error) {
    if (!isMissingRoute(error)) {
      area.replaceChildren(notice("error", error.message));
      return;
    }
  }
  const parts = [notice("info", "The price catalog (GET /api/v1/catalog) is not available on this server yet.")];
  try {
    const models = (await get("/v1/models")).data;
    parts.push(el("p", { text: "The models the OpenAI-compatible API offers (GET /v1/models):" }), modelsTable(models.data || []));
  } catch (error) {
    if (!isMissingRoute(error)) parts.push(notice("error", error.message));
    else parts.push(el("p", { class: "muted", text: "The OpenAI-compatible model list (GET /v1/models) is not available either. Ask Timmy's estimate shows what a request costs." }));
  }
  area.replaceChildren(...parts);
}

function modelsTable(models) {
  return table("Models", [
    { label: "Model", value: (m) => m.id },
    { label: "Owner", value: (m) => m.owned_by },
    { label: "Sats per million input tokens", value: (m) => m.pricing && m.pricing.sats_per_mtok_input, numeric: true },
    { label: "Sats per million output tokens", value: (m) => m.pricing && m.pricing.sats_per_mtok_output, numeric: true },
    { label: "Max output tokens", value: (m) => m.pricing && m.pricing.max_output_tokens, numeric: true },
  ], models);
}

/** A value as table text: numbers grouped, nested objects flattened to "key: value". */
function text(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return value.toLocaleString("en-US", { maximumFractionDigits: 6 });
  if (Array.isArray(value)) return value.map(text).join(", ");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k.replaceAll("_", " ")}: ${text(v)}`).join("; ");
  return String(value);
}

/** Columns of a list of records: every key the records have, nested objects one level down. */
function columnsOf(rows) {
  const keys = [];
  for (const row of rows) {
    for (const [key, value] of Object.entries(row)) {
      if (value && typeof value === "object" && !Array.isArray(value)) {
        for (const inner of Object.keys(value)) if (!keys.includes(`${key}.${inner}`)) keys.push(`${key}.${inner}`);
      } else if (!keys.includes(key)) keys.push(key);
    }
  }
  return keys.map((key) => ({
    label: key.replaceAll("_", " ").replace(".", " · "),
    numeric: rows.some((r) => typeof pick(r, key) === "number"),
    value: (r) => text(pick(r, key)),
  }));
}

function pick(row, key) {
  return key.split(".").reduce((v, k) => (v && typeof v === "object" ? v[k] : undefined), row);
}

function renderCatalog(catalog) {
  const parts = [];
  const facts = Object.entries(catalog).filter(([, v]) => v === null || typeof v !== "object");
  if (facts.length) {
    parts.push(el("dl", { class: "facts" }, facts.map(([k, v]) => [el("dt", { text: k.replaceAll("_", " ") }), el("dd", { text: text(v) })])));
  }
  for (const [key, value] of Object.entries(catalog)) {
    const rows = Array.isArray(value) ? value : value && typeof value === "object" && Object.values(value).every((v) => v && typeof v === "object")
      ? Object.entries(value).map(([name, v]) => ({ name, ...v })) : null;
    if (rows && rows.length && rows.every((r) => r && typeof r === "object")) {
      parts.push(el("h2", { text: key.replaceAll("_", " ") }), table(key.replaceAll("_", " "), columnsOf(rows), rows));
    } else if (value && typeof value === "object" && !Array.isArray(value)) {
      parts.push(el("h2", { text: key.replaceAll("_", " ") }),
        el("dl", { class: "facts" }, Object.entries(value).map(([k, v]) => [el("dt", { text: k.replaceAll("_", " ") }), el("dd", { text: text(v) })])));
    }
  }
  return parts.length ? parts : [notice("info", "The catalog is empty.")];
}
