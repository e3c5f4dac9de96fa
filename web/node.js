// Provision a node: pay once, a Bitcoin full node is created on DigitalOcean; its SSH key is
// delivered exactly once, so the page offers to save it at once.

import { get, post, store } from "./api.js";
import { downloadText, el, form, invoiceBox, notice, remember, say, steps, when } from "./ui.js";

export const title = "Provision a node";

const PROGRESS = ["awaiting_payment", "paid", "ssh_key", "upload_ssh_key", "tailscale_key", "create_droplet", "wait_for_ip", "ready"];
const LABELS = {
  awaiting_payment: "pay", paid: "paid", ssh_key: "SSH key", upload_ssh_key: "upload key",
  tailscale_key: "Tailscale", create_droplet: "create droplet", wait_for_ip: "wait for IP", ready: "ready",
};

export function mount(root, params, life) {
  root.append(
    el("h1", { id: "page-title", text: "Provision a node" }),
    el("p", { class: "lead", text: "Pay one invoice and Timmy creates a Bitcoin full node (Bitcoin Knots, Docker, Tailscale, a firewall) on DigitalOcean for you. The SSH private key is shown once: save it when it appears." }));
  const id = params.get("id");
  if (id) {
    const view = el("div", { "aria-live": "polite" });
    root.append(view);
    follow(view, id, life);
    return;
  }
  const { form: node } = form({
    label: "Order a node",
    fields: [],
    submit: "Order a node",
    handler: async () => {
      const created = (await post("/api/bootstrap", {})).data;
      const list = store.get("bootstraps", []);
      store.set("bootstraps", [created.bootstrap_job_id, ...list].slice(0, 10));
      location.hash = `#/node?id=${encodeURIComponent(created.bootstrap_job_id)}`;
    },
  });
  root.append(node);
  const list = store.get("bootstraps", []);
  if (list.length) {
    root.append(el("h2", { text: "Nodes ordered in this browser" }),
      el("ul", { class: "plain" }, list.map((b) => el("li", {}, el("a", { href: `#/node?id=${encodeURIComponent(b)}` }, el("code", { text: b }))))));
  }
}

function follow(view, id, life) {
  remember("node", { id });
  const boxes = new Map();
  const keySlot = el("div");
  const panel = el("div");
  const status = el("div");
  view.replaceChildren(keySlot, status, panel);
  const poll = async () => {
    try {
      const job = (await get(`/api/bootstrap/${encodeURIComponent(id)}`)).data;
      if (job.ssh_private_key) keySlot.replaceChildren(keyBox(job)); // delivered this once
      draw(panel, job, life, boxes);
      if (job.state === "ready" || job.state === "failed") return;
    } catch (error) {
      say(status, "error", error.message);
      if (error.status === 404) return;
    }
    life.later(1500, poll);
  };
  poll();
}

function draw(panel, job, life, boxes) {
  const parts = [
    el("h2", {}, "Node order ", el("code", { text: job.bootstrap_job_id })),
    steps(PROGRESS, job.state === "ready" ? "ready" : job.progress || job.state, LABELS),
    el("p", { class: "bootstrap-state", text: job.message }),
  ];
  if (job.state === "awaiting_payment" && job.invoice) {
    if (!boxes.has(job.invoice.payment_hash)) {
      boxes.set(job.invoice.payment_hash, invoiceBox(life, {
        title: "Pay for the node", invoice: job.invoice.payment_request, amount_sats: job.invoice.amount_sats, expires_at: job.invoice.expires_at,
      }));
    }
    parts.push(boxes.get(job.invoice.payment_hash));
  }
  if (job.state === "failed") parts.push(notice("error", job.error_message || "Provisioning failed; what was created has been removed."));
  if (job.state === "ready") {
    parts.push(el("dl", { class: "facts" },
      el("dt", { text: "Public IP" }), el("dd", {}, el("code", { text: job.node_ip || "—" })),
      el("dt", { text: "Tailscale name" }), el("dd", { text: job.tailscale_hostname || "—" }),
      el("dt", { text: "LNbits" }), el("dd", { text: job.lnbits_url || "—" }),
      el("dt", { text: "Ready since" }), el("dd", { text: when(job.updated_at) })));
    if (job.ssh_key_note) parts.push(notice("info", job.ssh_key_note));
  }
  if (job.next_steps && job.next_steps.length) {
    parts.push(el("h3", { text: "Next steps" }), el("ol", {}, job.next_steps.map((s) => el("li", { text: typeof s === "string" ? s : JSON.stringify(s) }))));
  }
  panel.replaceChildren(...parts);
}

function keyBox(job) {
  const key = job.ssh_private_key;
  return el("section", { class: "token-once", role: "alert", "aria-label": "SSH private key" },
    el("h3", { text: "Save the node's SSH private key now" }),
    el("p", { text: "It is delivered this once and never stored in this browser. Without it you cannot log in to the node." }),
    el("pre", { class: "token", tabindex: "0", text: key }),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "primary", text: "Save key file", on: { click: () => downloadText(`timmy-node-${job.bootstrap_job_id.slice(0, 8)}`, key) } })));
}
