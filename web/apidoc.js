// API: the OpenAPI document (shared/openapi.json, packaged with the app) rendered as a
// readable reference: operations grouped by tag, their parameters, bodies and responses.

import { el, notice } from "./ui.js";

export const title = "API";

const METHODS = ["get", "post", "put", "patch", "delete"];

export async function mount(root) {
  root.append(el("h1", { id: "page-title", text: "API reference" }));
  const area = el("div", {}, el("p", { class: "muted", text: "Loading the OpenAPI document…" }));
  root.append(area);
  let doc;
  try {
    const response = await fetch(new URL("openapi.json", import.meta.url));
    if (!response.ok) throw new Error(`The OpenAPI document could not be loaded (${response.status}).`);
    doc = await response.json();
  } catch (error) {
    area.replaceChildren(notice("error", error.message));
    return;
  }
  area.replaceChildren(...render(doc));
}

function render(doc) {
  const info = doc.info || {};
  const groups = new Map();
  for (const [path, operations] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const op = operations[method];
      if (!op) continue;
      const tag = (op.tags && op.tags[0]) || "other";
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push({ path, method, op });
    }
  }
  const tags = [...groups.keys()].sort();
  const parts = [
    el("p", { class: "lead", text: `${info.title || "API"} ${info.version || ""} — ${info.description || ""}` }),
    el("p", {}, "The machine-readable document: ", el("a", { href: new URL("openapi.json", import.meta.url).pathname, text: "openapi.json" }), "."),
    el("nav", { "aria-label": "API sections", class: "toc" }, el("ul", {}, tags.map((t) => el("li", {}, el("a", { href: `#/api`, "data-target": "tag-" + t, on: { click: jump }, text: t }))))),
  ];
  for (const tag of tags) {
    parts.push(el("h2", { id: "tag-" + tag, tabindex: "-1", text: tag }));
    for (const { path, method, op } of groups.get(tag)) parts.push(operation(doc, path, method, op));
  }
  const schemas = (doc.components && doc.components.schemas) || {};
  parts.push(el("h2", { id: "tag-schemas", text: "Schemas" }));
  for (const [name, schema] of Object.entries(schemas).sort()) {
    parts.push(el("details", { class: "schema", id: "schema-" + name },
      el("summary", {}, el("code", { text: name })), schemaView(doc, schema, 0)));
  }
  return parts;
}

function jump(event) {
  event.preventDefault();
  const target = document.getElementById(event.currentTarget.dataset.target);
  if (target) {
    target.scrollIntoView();
    target.focus({ preventScroll: true });
  }
}

function operation(doc, path, method, op) {
  const body = [];
  if (op.description) body.push(el("p", { text: op.description }));
  const params = op.parameters || [];
  if (params.length) {
    body.push(el("h4", { text: "Parameters" }), el("ul", { class: "params" }, params.map((p) => el("li", {},
      el("code", { text: p.name }), ` (${p.in}${p.required ? ", required" : ""}) `,
      typeLabel(doc, p.schema || {}), p.description || (p.schema && p.schema.description) ? ` — ${p.description || p.schema.description}` : ""))));
  }
  const request = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
  if (request) {
    body.push(el("h4", { text: "Request body (JSON)" }), schemaView(doc, request.schema || {}, 0));
  }
  const responses = Object.entries(op.responses || {});
  body.push(el("h4", { text: "Responses" }), el("ul", { class: "responses" }, responses.map(([status, r]) => {
    const content = r.content || {};
    const types = Object.keys(content);
    const json = content["application/json"];
    return el("li", {},
      el("span", { class: `status s${status[0]}`, text: status }), " ", r.description || "",
      types.length && !json ? el("span", { class: "muted", text: ` (${types.join(", ")})` }) : null,
      json && json.schema ? el("span", { class: "muted" }, " → ", typeLabel(doc, json.schema)) : null);
  })));
  return el("details", { class: "operation" },
    el("summary", {}, el("span", { class: `method ${method}`, text: method.toUpperCase() }), " ", el("code", { text: path }), " ",
      el("span", { class: "summary", text: op.summary || "" })),
    ...body);
}

function refName(schema) {
  return schema.$ref ? schema.$ref.split("/").pop() : null;
}

function resolve(doc, schema) {
  const name = refName(schema);
  return name ? (doc.components.schemas[name] || {}) : schema;
}

/** A short type: a link to a named schema, "string", "integer | null", "array of X". */
function typeLabel(doc, schema) {
  const name = refName(schema);
  if (name) return el("a", { href: "#/api", "data-target": "schema-" + name, on: { click: openSchema }, text: name });
  const variants = schema.anyOf || schema.oneOf;
  if (variants) {
    const span = el("span");
    variants.forEach((v, i) => {
      if (i) span.append(" | ");
      span.append(typeLabel(doc, v));
    });
    return span;
  }
  if (schema.type === "array") return el("span", {}, "array of ", typeLabel(doc, schema.items || {}));
  if (schema.enum) return el("span", { text: schema.enum.map((v) => JSON.stringify(v)).join(" | ") });
  return el("span", { text: schema.type || "any" });
}

function openSchema(event) {
  event.preventDefault();
  const target = document.getElementById(event.currentTarget.dataset.target);
  if (target) {
    target.open = true;
    target.scrollIntoView();
  }
}

function schemaView(doc, schema, depth) {
  const resolved = resolve(doc, schema);
  const props = resolved.properties;
  if (!props) return el("p", {}, typeLabel(doc, schema), resolved.description ? ` — ${resolved.description}` : "");
  const required = new Set(resolved.required || []);
  return el("ul", { class: "props" }, Object.entries(props).map(([name, p]) => el("li", {},
    el("code", { text: name }), required.has(name) ? el("span", { class: "req", text: " required" }) : null, " ",
    typeLabel(doc, p), p.description ? ` — ${p.description}` : "",
    depth < 1 && refName(p) && resolve(doc, p).properties ? schemaView(doc, p, depth + 1) : null)));
}
