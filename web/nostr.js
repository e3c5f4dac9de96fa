// Nostr login with a NIP-07 browser extension (window.nostr): sign the server's nonce as a
// NIP-42 AUTH event (kind 22242, the nonce in a "challenge" tag), get a nostr_token back.

import { nostrLogin, post, store } from "./api.js";
import { el } from "./ui.js";

const AUTH_KIND = 22242;

export async function logIn() {
  if (!window.nostr) throw new Error("No Nostr extension (NIP-07) was found in this browser.");
  const pubkey = await window.nostr.getPublicKey();
  const challenge = (await post("/api/identity/challenge", {})).data;
  const unsigned = {
    kind: AUTH_KIND,
    created_at: Math.floor(Date.now() / 1000),
    tags: [["relay", location.origin], ["challenge", challenge.nonce]],
    content: "",
    pubkey,
  };
  const event = await window.nostr.signEvent(unsigned);
  const login = (await post("/api/identity/verify", { event, pubkey })).data;
  store.set("nostr", {
    nostr_token: login.nostr_token,
    pubkey: login.pubkey,
    expires_at: login.expires_at,
    tier: login.trust_tier,
  });
  return login;
}

export function logOut() {
  store.remove("nostr");
}

function short(pubkey) {
  return `${pubkey.slice(0, 8)}…${pubkey.slice(-4)}`;
}

/** The header's identity corner: who is signed in, or a sign-in button when an extension is. */
export function renderIdentity(slot) {
  const draw = () => {
    const login = nostrLogin();
    if (login) {
      slot.replaceChildren(
        el("span", { class: "who", title: login.pubkey, text: `Nostr ${short(login.pubkey)} · ${login.tier || "new"}` }),
        el("button", { type: "button", class: "link", text: "Sign out", on: { click: () => { logOut(); draw(); } } }));
      return;
    }
    if (!window.nostr) {
      slot.replaceChildren(el("span", { class: "muted", text: "Nostr sign-in needs a NIP-07 extension" }));
      return;
    }
    const message = el("span", { class: "error-text", role: "alert" });
    const button = el("button", { type: "button", class: "secondary", text: "Sign in with Nostr" });
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await logIn();
        draw();
      } catch (error) {
        message.textContent = error.message || String(error);
        button.disabled = false;
      }
    });
    slot.replaceChildren(button, message);
  };
  draw();
  // Extensions inject window.nostr a little after the page starts.
  if (!window.nostr) setTimeout(draw, 800);
}
