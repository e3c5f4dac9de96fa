// Alby's fetchWithL402 (@getalby/lightning-tools) against Timmy, as a browser or Node app uses
// it: the wallet pays with the dev wallet and hands back the preimage. Prints one JSON line.
// Usage: node alby_l402.mjs <base_url> <path> <json body>
import { fetchWithL402 } from "@getalby/lightning-tools/402/l402";

const [base, path, body] = process.argv.slice(2);
const paid = [];
const wallet = {
  async payInvoice({ invoice }) {
    const answer = await fetch(`${base}/api/dev/wallet/pay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ invoice }),
    });
    const { preimage } = await answer.json();
    paid.push(invoice);
    return { preimage };
  },
};
const response = await fetchWithL402(
  `${base}${path}`,
  { method: "POST", headers: { "content-type": "application/json" }, body },
  { wallet },
);
console.log(
  JSON.stringify({
    status: response.status,
    body: await response.json(),
    cost: response.headers.get("x-timmy-cost-sats"),
    balance: response.headers.get("x-timmy-balance-sats"),
    paid_invoices: paid.length,
    amount_sat: response.payment?.amountSat ?? null,
    credentials: response.payment?.credentials ?? null,
  }),
);
