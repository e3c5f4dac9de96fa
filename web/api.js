// The public HTTP API, as the pages call it, and what the browser keeps between visits.

const STORE = "timmy.";

export const store = {
  get(key, fallback = null) {
    try {
      const raw = localStorage.getItem(STORE + key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    localStorage.setItem(STORE + key, JSON.stringify(value));
  },
  remove(key) {
    localStorage.removeItem(STORE + key);
  },
};

/** The Nostr login, when one is held and not expired: {nostr_token, pubkey, expires_at, tier}. */
export function nostrLogin() {
  const login = store.get("nostr");
  if (!login) return null;
  if (login.expires_at && Date.parse(login.expires_at) <= Date.now()) {
    store.remove("nostr");
    return null;
  }
  return login;
}

export function accountToken() {
  return store.get("account_token");
}

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/**
 * One call: JSON in and out. Answers {status, data, headers}; a status the caller does not
 * expect (not 2xx and not in `accept`) throws ApiError with the envelope's code and message.
 */
export async function call(method, path, { body, headers = {}, accept = [], nostr = false, token = false } = {}) {
  const sent = { Accept: "application/json", ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  if (nostr) {
    const login = nostrLogin();
    if (login) sent["X-Nostr-Token"] = login.nostr_token;
  }
  if (token) {
    const held = accountToken();
    if (held) sent["X-Token"] = held;
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, "network_error", "The server could not be reached. Check your connection and try again.");
  }
  let data = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (response.ok || accept.includes(response.status)) {
    return { status: response.status, data, headers: response.headers };
  }
  const error = (data && data.error) || {};
  const message = error.message || (data && data.message) || `The server answered ${response.status}.`;
  throw new ApiError(response.status, error.code || "http_" + response.status, message, data);
}

export const get = (path, options) => call("GET", path, options);
export const post = (path, body, options = {}) => call("POST", path, { ...options, body: body ?? {} });

/** Whether a route exists at all: API Gateway (and the local gateway) answer 404 otherwise. */
export function isMissingRoute(error) {
  return error instanceof ApiError && (error.status === 404 || error.status === 405) &&
    (error.code === "route_not_found" || error.code === "http_404" || error.code === "http_405");
}

let devWallet = null;

/**
 * Whether this deployment has the development wallet (POST /api/dev/wallet/pay). Asked once:
 * an empty body is refused with a 400 by the route, and a 404 means there is no such route.
 */
export function hasDevWallet() {
  if (devWallet === null) {
    devWallet = call("POST", "/api/dev/wallet/pay", { body: {}, accept: [400, 404, 405, 415] })
      .then((answer) => answer.status === 400)
      .catch(() => false);
  }
  return devWallet;
}

/** A customer's invoice from the development wallet, to withdraw or be refunded to. */
export async function devWalletInvoice(amount_sats) {
  const answer = await post("/api/dev/wallet/invoice", { amount_sats, description: "web app" });
  return answer.data.invoice;
}

export async function payWithDevWallet(invoice) {
  const answer = await post("/api/dev/wallet/pay", { invoice });
  return answer.data; // {payment_hash, preimage, amount_sats}
}
