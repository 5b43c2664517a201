// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import type { Channel } from "@tauri-apps/api/core";

import type { NetStepView, PasskeyView, PhoneEvent, ProfileView, RequestView, TestPhaseView } from "./ipc/bindings";
import { createStatus } from "./status";
import { Store } from "./store";
import { mountDiagnostics, phaseText, summaryText } from "./views/diagnostics";
import { mountPasskeys } from "./views/passkeys";
import { mountPhone, outcomeText } from "./views/phone";
import { mountProfiles } from "./views/profiles";
import { mountRequest } from "./views/request";
import { loginHintText, mountSettings } from "./views/settings";
import { mountTabs } from "./views/tabs";

function local(y: number, m: number, d: number, hh = 12, mm = 0): number {
  return Math.floor(new Date(y, m - 1, d, hh, mm).getTime() / 1000);
}
const NOW = local(2026, 3, 10, 15, 0);

function profile(over: Partial<ProfileView> = {}): ProfileView {
  return {
    name: "Ana",
    state: "unlocked",
    protection: "keychain-pin",
    passkeyCount: 2,
    active: true,
    autoLockAt: null,
    ...over,
  };
}

const PASSKEYS: PasskeyView[] = [
  {
    id: "aa01",
    rpId: "example.com",
    rpName: "Example",
    userName: "ana@example.com",
    displayName: null,
    createdAt: local(2026, 3, 3),
    lastUsed: NOW - 2 * 3600,
    location: "this-computer",
    phone: null,
  },
  {
    id: "bb02",
    rpId: "shop.test",
    rpName: null,
    userName: "ana",
    displayName: "Ana Lima",
    createdAt: local(2026, 1, 5),
    lastUsed: null,
    location: "phone",
    phone: "Pixel 8",
  },
];

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
}

beforeEach(() => {
  document.body.replaceChildren(createStatus());
});
afterEach(() => clearMocks());

describe("passkey list", () => {
  function setup(profiles: ProfileView[]) {
    const store = new Store();
    store.setProfiles(profiles);
    const panel = document.createElement("section");
    panel.id = "panel-passkeys";
    document.body.append(panel);
    const view = mountPasskeys(panel, store, { now: () => NOW });
    document.body.append(...view.dialogs);
    return { store, view, panel };
  }

  it("shows each passkey with site, account, dates and location", async () => {
    mockIPC((cmd) => {
      if (cmd === "passkeys_list") return PASSKEYS;
      throw new Error(`unexpected ${cmd}`);
    });
    const { view } = setup([profile()]);
    await view.reload();
    const items = document.querySelectorAll<HTMLLIElement>("ul#passkeys li.passkey");
    expect(items).toHaveLength(2);
    const [first, second] = [...items];
    expect(first?.dataset["id"]).toBe("aa01");
    expect(first?.querySelector(".site")?.textContent).toBe("Example (example.com)");
    expect(first?.querySelector(".account")?.textContent).toBe("ana@example.com");
    expect(first?.textContent).toContain("Created 3 Mar 2026");
    expect(first?.textContent).toContain("Last used 2 hours ago");
    expect(first?.querySelector(".location")?.textContent).toBe("This computer");
    expect(second?.querySelector(".account")?.textContent).toBe("Ana Lima");
    expect(second?.textContent).toContain("Never used");
    expect(second?.querySelector(".location")?.textContent).toBe("Phone: Pixel 8");
    expect(byId("passkeys-empty").hidden).toBe(true);
    expect(byId("locked-notice").hidden).toBe(true);
  });

  it("shows the empty state", async () => {
    mockIPC(() => []);
    const { view } = setup([profile()]);
    await view.reload();
    expect(byId("passkeys-empty").hidden).toBe(false);
    expect(byId("passkeys-empty").textContent).toContain("Phone tab");
    expect(document.querySelectorAll("li.passkey")).toHaveLength(0);
  });

  it("shows only the locked notice for a locked profile, without asking for passkeys", async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      return PASSKEYS;
    });
    const { view } = setup([profile({ state: "locked", passkeyCount: null })]);
    await view.reload();
    expect(byId("locked-notice").hidden).toBe(false);
    expect(byId("locked-notice").textContent).toBe("This profile's passkeys appear here once it is unlocked.");
    expect(document.getElementById("passkeys")).toBeNull();
    expect(calls).not.toContain("passkeys_list");
  });

  it("says a locked profile is locked once in the whole window, next to its PIN field", async () => {
    mockIPC(() => PASSKEYS);
    const { store, view } = setup([profile({ state: "locked", passkeyCount: null }), profile({ name: "Ben", active: false, state: "locked" })]);
    const profiles = mountProfiles(store);
    document.body.prepend(profiles.header);
    await view.reload();
    // What a person sees: text outside hidden elements (the select shows only its chosen option).
    const seen: string[] = [];
    const walk = (node: Node): void => {
      if (node instanceof HTMLElement && (node.hidden || node.tagName === "DIALOG")) return;
      if (node instanceof HTMLSelectElement) {
        seen.push(node.selectedOptions[0]?.textContent ?? "");
        return;
      }
      if (node.nodeType === Node.TEXT_NODE) seen.push(node.textContent ?? "");
      node.childNodes.forEach(walk);
    };
    walk(document.body);
    const text = seen.join(" ");
    expect(text.match(/\blocked\b/gi)?.length, text).toBe(1);
    expect(text).toContain("“Ana” is locked. Enter its PIN to unlock it.");
    expect(byId("unlock-pin").closest("[hidden]")).toBeNull();
  });

  it("drops the list when the profile turns out to be locked", async () => {
    let locked = false;
    mockIPC((cmd) => {
      if (cmd !== "passkeys_list") throw new Error(cmd);
      if (locked) throw { code: "locked", message: "the profile is locked" };
      return PASSKEYS;
    });
    const { view } = setup([profile()]);
    await view.reload();
    expect(document.getElementById("passkeys")).not.toBeNull();
    locked = true;
    await view.reload();
    expect(document.getElementById("passkeys")).toBeNull();
    expect(byId("locked-notice").hidden).toBe(false);
    expect(byId("status").dataset["code"]).toBe("locked");
  });

  it("confirms before deleting, and says a phone keeps its passkey", async () => {
    const deleted: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "passkeys_list") return PASSKEYS;
      if (cmd === "passkey_delete") {
        deleted.push(args);
        return PASSKEYS.slice(0, 1);
      }
      throw new Error(cmd);
    });
    const { view } = setup([profile()]);
    await view.reload();
    document.querySelector<HTMLButtonElement>('li[data-id="bb02"] .delete')?.click();
    const dialog = byId<HTMLDialogElement>("confirm-delete");
    expect(dialog.open).toBe(true);
    expect(dialog.textContent).toContain("shop.test");
    expect(dialog.textContent).toContain("Ana Lima");
    expect(dialog.textContent).toContain("the phone keeps it");
    byId("confirm-delete-no").click();
    expect(dialog.open).toBe(false);
    expect(deleted).toHaveLength(0);

    document.querySelector<HTMLButtonElement>('li[data-id="bb02"] .delete')?.click();
    byId("confirm-delete-yes").click();
    await vi.waitFor(() => expect(document.querySelectorAll("li.passkey")).toHaveLength(1));
    expect(deleted).toEqual([{ id: "bb02" }]);
  });

  it("renames through the dialog", async () => {
    mockIPC((cmd, args) => {
      if (cmd === "passkeys_list") return PASSKEYS;
      if (cmd === "passkey_rename") {
        const { displayName } = args as { displayName: string };
        return [{ ...PASSKEYS[0], displayName }];
      }
      throw new Error(cmd);
    });
    const { view } = setup([profile()]);
    await view.reload();
    document.querySelector<HTMLButtonElement>('li[data-id="aa01"] .rename')?.click();
    const input = byId<HTMLInputElement>("rename-input");
    expect(input.value).toBe("ana@example.com");
    input.value = "Work account";
    byId("rename-save").click();
    await vi.waitFor(() =>
      expect(document.querySelector('li[data-id="aa01"] .account')?.textContent).toBe("Work account"),
    );
  });
});

describe("request dialog", () => {
  const REQUEST: RequestView = {
    id: 41,
    kind: "sign-in",
    rpId: "example.com",
    rpName: "Example",
    userName: null,
    displayName: null,
    accounts: [
      { id: "aa01", userName: "ana@example.com", displayName: null },
      { id: "cc03", userName: "ana.work@example.com", displayName: "Ana (work)" },
    ],
    profile: "Ana",
    needsVerification: true,
    canVerify: true,
    summary: "Sign in to example.com as one of 2 accounts.",
    expiresAt: Math.floor(Date.now() / 1000) + 30,
    locked: false,
    canUsePhone: false,
  };

  function setup() {
    const req = mountRequest();
    document.body.append(req.dialog);
    return req;
  }

  it("names the site, kind and profile, and offers the accounts", () => {
    const req = setup();
    req.show(REQUEST);
    expect(req.dialog.open).toBe(true);
    expect(byId("request-site").textContent).toBe("Example (example.com)");
    expect(req.dialog.textContent).toContain("wants you to sign in");
    expect(byId("request-profile").textContent).toBe("Ana");
    const radios = document.querySelectorAll<HTMLInputElement>("input[name=account]");
    expect(radios).toHaveLength(2);
    expect(radios[0]?.checked).toBe(true);
    expect(byId("request-pin").closest(".field")?.hasAttribute("hidden")).toBe(false);
    req.show(null);
    expect(req.dialog.open).toBe(false);
  });

  it("names the site once and counts down the time the site waits", () => {
    const req = setup();
    req.show(REQUEST);
    // The summary would name the site a second time: only the line above it shows.
    expect(byId("request-summary").hidden).toBe(true);
    expect(byId("request-countdown").textContent).toMatch(/^Answer within (29|30) seconds\.$/);
    req.show(null);
  });

  it("says what a program without a site asks, and nothing twice", () => {
    const req = setup();
    req.show({ ...REQUEST, id: 42, kind: "confirm", rpId: null, rpName: null, accounts: [], summary: "A program asks to erase every passkey and the PIN (factory reset)." });
    expect(byId("request-summary").hidden).toBe(false);
    expect(byId("request-site").closest("p")?.hidden).toBe(true);
    req.show(null);
  });

  it("tells the person when the site stopped waiting, and not after an answer from here", async () => {
    const req = setup();
    const past = Math.floor(Date.now() / 1000) - 1;
    req.show({ ...REQUEST, id: 43, expiresAt: past });
    req.show(null);
    expect(req.dialog.open).toBe(false);
    expect(byId("status").textContent).toContain("timed out, and the site was told");
    req.show({ ...REQUEST, id: 44, expiresAt: past + 20 });
    req.show(null);
    expect(byId("status").textContent).toContain("Example (example.com) withdrew its request.");
    // Answered here: the dialog closes without a word.
    byId("status").hidden = true;
    mockIPC((cmd) => {
      if (cmd === "request_answer") return null;
      throw new Error(cmd);
    });
    req.show({ ...REQUEST, id: 45, needsVerification: false });
    byId("request-decline").click();
    await vi.waitFor(() => expect(req.dialog.open).toBe(false));
    req.show(null);
    expect(byId("status").hidden).toBe(true);
  });

  it("keeps the dialog open on a wrong PIN, says so, and clears and focuses the PIN", async () => {
    const answers: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "request_answer") {
        answers.push(args);
        throw { code: "wrong-pin", message: "Wrong PIN. 6 attempts left before the profile is blocked." };
      }
      throw new Error(cmd);
    });
    const req = setup();
    req.show(REQUEST);
    document.querySelectorAll<HTMLInputElement>("input[name=account]")[1]!.checked = true;
    const pin = byId<HTMLInputElement>("request-pin");
    pin.value = "1111";
    byId("request-approve").click();
    await vi.waitFor(() => expect(byId("request-error").textContent).toBe("Wrong PIN. 6 attempts left before the profile is blocked."));
    expect(answers).toEqual([{ answer: { id: 41, approve: true, account: "cc03", pin: "1111", usePhone: false } }]);
    expect(req.dialog.open).toBe(true);
    expect(pin.value).toBe("");
    expect(document.activeElement).toBe(pin);
    // The dialog says it; the window's status region stays clear (it would outlive the dialog).
    expect(byId("status").hidden).toBe(true);
  });

  it("closes when the request is gone", async () => {
    mockIPC(() => {
      throw { code: "not-found", message: "this request is no longer waiting" };
    });
    const req = setup();
    req.show({ ...REQUEST, needsVerification: false });
    byId("request-decline").click();
    await vi.waitFor(() => expect(req.dialog.open).toBe(false));
  });

  it("cannot approve when verification is needed but the profile has no PIN", () => {
    const req = setup();
    req.show({ ...REQUEST, canVerify: false });
    expect(byId<HTMLButtonElement>("request-approve").disabled).toBe(true);
    expect(byId("request-no-pin").textContent).toContain("has no PIN");
    expect(byId("request-pin").closest(".field")?.hasAttribute("hidden")).toBe(true);
  });

  it("offers to unlock a locked profile, and declines after unlocking", async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      if (cmd === "profile_unlock") return [profile()];
      if (cmd === "request_answer") return null;
      throw new Error(cmd);
    });
    const req = setup();
    req.show({ ...REQUEST, kind: "register", userName: "ana", accounts: [], locked: true });
    expect(req.dialog.textContent).toContain("wants to create a passkey for ana");
    expect(byId("request-locked").textContent).toContain("is locked");
    byId<HTMLInputElement>("request-unlock-pin").value = "2468";
    byId("request-unlock").click();
    await vi.waitFor(() => expect(req.dialog.open).toBe(false));
    expect(calls).toEqual([
      ["profile_unlock", { name: "Ana", pin: "2468" }],
      ["request_answer", { answer: { id: 41, approve: false, account: null, pin: null, usePhone: false } }],
    ]);
  });
});

describe("request dialog: use a phone instead", () => {
  const REQUEST: RequestView = {
    id: 7,
    kind: "register",
    rpId: "example.com",
    rpName: "Example",
    userName: "ana",
    displayName: null,
    accounts: [],
    profile: "Ana",
    needsVerification: false,
    canVerify: true,
    summary: "Create a passkey for ana on example.com.",
    expiresAt: Math.floor(Date.now() / 1000) + 30,
    locked: false,
    canUsePhone: true,
  };
  const SVG = '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>';
  const base = { flow: 5, qrUrl: null, qrSvg: null, message: null };

  function steps(): string[] {
    return [...document.querySelectorAll<HTMLLIElement>("ol#request-phone-steps li")].map(
      (li) => `${li.dataset["step"]}:${li.dataset["state"]}`,
    );
  }

  /** Mounts the dialog, shows REQUEST and clicks "Use a phone instead"; `request_answer` resolves when `answered()` is called. */
  async function startPhone(over: Partial<RequestView> = {}) {
    const calls: [string, unknown][] = [];
    let answered: (() => void) | null = null;
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      if (cmd === "request_answer") return new Promise((resolve) => (answered = () => resolve(null)));
      if (cmd === "phone_cancel") return true;
      throw new Error(cmd);
    });
    const onClosed = vi.fn();
    const onPhoneFinished = vi.fn();
    const req = mountRequest({ onClosed, onPhoneFinished });
    document.body.append(req.dialog);
    req.show({ ...REQUEST, ...over });
    byId("request-use-phone").click();
    await vi.waitFor(() => expect(answered).not.toBeNull());
    return { req, calls, answered: answered as unknown as () => void, onClosed, onPhoneFinished };
  }

  it("offers the phone only when the request can use one and the profile is unlocked", () => {
    const req = mountRequest();
    document.body.append(req.dialog);
    req.show(REQUEST);
    expect(byId("request-use-phone").hidden).toBe(false);
    expect(byId("request-use-phone").textContent).toBe("Use a phone instead");
    req.show(null);
    req.show({ ...REQUEST, id: 8, canUsePhone: false });
    expect(byId("request-use-phone").hidden).toBe(true);
    req.show(null);
    req.show({ ...REQUEST, id: 9, locked: true });
    expect(byId("request-use-phone").hidden).toBe(true);
    expect(byId("request-use-phone").closest("[hidden]")).not.toBeNull();
  });

  it("hands the request to the phone and shows the QR code and steps, keeping the dialog open", async () => {
    const { req, calls, answered, onClosed, onPhoneFinished } = await startPhone();
    expect(calls).toEqual([["request_answer", { answer: { id: 7, approve: false, account: null, pin: null, usePhone: true } }]]);
    // The first event may come before the answer resolves.
    req.phoneEvent({ ...base, step: "qr-shown", elapsedMs: 20, qrUrl: "FIDO:/4567", qrSvg: SVG });
    // The app closes the usual dialog with `null` when the request goes to the phone.
    req.show(null);
    expect(req.dialog.open).toBe(true);
    expect(onClosed).toHaveBeenCalled();
    answered();
    await vi.waitFor(() => expect(byId("request-phone").hidden).toBe(false));
    expect(req.dialog.open).toBe(true);
    expect(byId("request-dialog-title").textContent).toBe("Use your phone");
    expect(byId("request-approve").closest("[hidden]")).not.toBeNull();
    expect(byId("request-pin").closest("[hidden]")).not.toBeNull();
    const img = document.querySelector<HTMLImageElement>("#request-phone-qr img");
    expect(img?.getAttribute("src")).toBe(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(SVG)}`);
    expect(img?.alt).not.toBe("");
    expect(byId("request-phone-qr").dataset["url"]).toBe("FIDO:/4567");
    expect(byId("request-phone-qr").textContent).toContain("Can't scan it?");
    expect(byId("request-phone-qr-url").textContent).toBe("FIDO:/4567");
    expect(steps()[0]).toBe("qr-shown:current");
    expect(document.activeElement).toBe(byId("request-phone-cancel"));

    req.phoneEvent({ ...base, step: "phone-nearby", elapsedMs: 1500 });
    // Another flow is not this dialog's.
    req.phoneEvent({ ...base, flow: 99, step: "failed", elapsedMs: 1600, message: "not ours" });
    req.phoneEvent({ ...base, step: "secure-channel", elapsedMs: 2500 });
    expect(steps()).toEqual([
      "qr-shown:done",
      "phone-nearby:done",
      "relay-connected:done",
      "secure-channel:current",
      "waiting-for-approval:pending",
      "done:pending",
    ]);
    expect(document.querySelector('#request-phone-steps li[data-step="phone-nearby"]')?.textContent).toContain("1.5 s");
    expect(byId("request-phone-qr").hidden).toBe(true);
    expect(byId("request-phone-result").hidden).toBe(true);
    expect(onPhoneFinished).not.toHaveBeenCalled();

    req.phoneEvent({ ...base, step: "done", elapsedMs: 4000, message: "Passkey created on your phone for example.com." });
    expect(steps().every((s) => s.endsWith(":done"))).toBe(true);
    const result = byId("request-phone-result");
    expect(result.hidden).toBe(false);
    expect(result.dataset["state"]).toBe("ok");
    expect(result.textContent).toBe("Passkey created on your phone for example.com.");
    expect(document.getElementById("request-phone-cancel")).toBeNull();
    expect(document.activeElement).toBe(byId("request-phone-close"));
    expect(onPhoneFinished).toHaveBeenCalledTimes(1);
    expect(req.dialog.open).toBe(true);
    byId("request-phone-close").click();
    expect(req.dialog.open).toBe(false);
  });

  it("cancels the phone ceremony with its flow, then Esc closes", async () => {
    const { req, calls, answered } = await startPhone({ kind: "sign-in", userName: null });
    answered();
    await vi.waitFor(() => expect(byId("request-phone").hidden).toBe(false));
    req.phoneEvent({ ...base, step: "qr-shown", elapsedMs: 10, qrUrl: "FIDO:/1", qrSvg: SVG });
    byId("request-phone-cancel").click();
    await vi.waitFor(() => expect(calls.some(([cmd]) => cmd === "phone_cancel")).toBe(true));
    expect(calls.filter(([cmd]) => cmd === "phone_cancel")).toEqual([["phone_cancel", { flow: 5 }]]);
    req.phoneEvent({ ...base, step: "cancelled", elapsedMs: 900, message: "Cancelled." });
    expect(byId("request-phone-result").dataset["state"]).toBe("error");
    expect(byId("request-phone-result").textContent).toBe("Cancelled.");
    expect(steps()[0]).toBe("qr-shown:failed");
    req.dialog.dispatchEvent(new Event("cancel", { cancelable: true }));
    expect(req.dialog.open).toBe(false);
  });

  it("Esc while the phone runs cancels it, even before the first event names the flow", async () => {
    const { req, calls, answered } = await startPhone();
    answered();
    await vi.waitFor(() => expect(byId("request-phone").hidden).toBe(false));
    req.dialog.dispatchEvent(new Event("cancel", { cancelable: true }));
    expect(req.dialog.open).toBe(true);
    req.phoneEvent({ ...base, flow: 6, step: "qr-shown", elapsedMs: 10, qrUrl: "FIDO:/2", qrSvg: SVG });
    await vi.waitFor(() => expect(calls.filter(([cmd]) => cmd === "phone_cancel")).toEqual([["phone_cancel", { flow: 6 }]]));
  });

  it("leaves phone mode for a new request", async () => {
    const { req, answered } = await startPhone();
    answered();
    await vi.waitFor(() => expect(byId("request-phone").hidden).toBe(false));
    req.show({ ...REQUEST, id: 8, kind: "sign-in", accounts: [], canUsePhone: false });
    expect(req.dialog.open).toBe(true);
    expect(byId("request-phone").hidden).toBe(true);
    expect(byId("request-dialog-title").textContent).toBe("Passkey request");
    expect(byId("request-approve").closest("[hidden]")).toBeNull();
    expect(byId("request-approve").textContent).toBe("Sign in");
    // Events of the old ceremony no longer show.
    req.phoneEvent({ ...base, step: "done", elapsedMs: 10 });
    expect(byId("request-phone").hidden).toBe(true);
    req.show(null);
    expect(req.dialog.open).toBe(false);
  });

  it("stays on the request when the phone cannot take it", async () => {
    const req = mountRequest();
    document.body.append(req.dialog);
    mockIPC(() => {
      throw { code: "busy", message: "another phone request is running" };
    });
    req.show(REQUEST);
    byId("request-use-phone").click();
    await vi.waitFor(() => expect(byId("request-error").textContent).toBe("Another phone request is running."));
    expect(byId("request-phone").hidden).toBe(true);
    expect(byId("request-approve").closest("[hidden]")).toBeNull();
    req.phoneEvent({ ...base, step: "qr-shown", elapsedMs: 1, qrUrl: "FIDO:/3", qrSvg: SVG });
    expect(byId("request-phone-qr").hidden).toBe(true);
  });
});

describe("header", () => {
  it("shows the active profile, its lock state and auto-lock time", () => {
    const store = new Store();
    const view = mountProfiles(store);
    document.body.append(view.header);
    expect(byId("active-profile").textContent).toBe("No profile");
    store.setProfiles([
      profile({ autoLockAt: local(2026, 3, 10, 16, 5) }),
      profile({ name: "Work", active: false, state: "locked" }),
    ]);
    expect(byId("active-profile").textContent).toBe("Ana");
    expect(byId("autolock").textContent).toBe("Locks automatically at 16:05");
    expect(byId("autolock").hidden).toBe(false);
    expect(byId("profile-lock").hidden).toBe(false);
    expect(byId("unlock-form").hidden).toBe(true);
    expect(byId<HTMLSelectElement>("profile-select").value).toBe("Ana");

    store.setProfiles([profile({ state: "locked", autoLockAt: null })]);
    expect(byId("autolock").hidden).toBe(true);
    expect(byId("profile-lock").hidden).toBe(true);
    expect(byId("unlock-form").hidden).toBe(false);
    expect(document.querySelector('label[for="unlock-pin"]')).not.toBeNull();

    store.setProfiles([profile({ protection: "keychain" })]);
    expect(byId("profile-lock").hidden).toBe(true);
  });

  it("clears and focuses the unlock PIN when it is wrong", async () => {
    mockIPC(() => {
      throw { code: "wrong-pin", message: "wrong PIN" };
    });
    const store = new Store();
    const view = mountProfiles(store);
    document.body.append(view.header);
    store.setProfiles([profile({ state: "locked" })]);
    const pin = byId<HTMLInputElement>("unlock-pin");
    pin.value = "0000";
    byId("unlock-submit").click();
    await vi.waitFor(() => expect(byId("unlock-error").hidden).toBe(false));
    expect(byId("unlock-error").textContent).toBe("Wrong PIN.");
    expect(pin.value).toBe("");
    expect(document.activeElement).toBe(pin);
  });

  it("says why an unlock failed and what to do, once, beside the PIN", async () => {
    mockIPC(() => {
      throw { code: "keychain-unavailable", message: "the OS keychain is not available: unlock your keychain (or log in again), then try again" };
    });
    const store = new Store();
    const view = mountProfiles(store);
    document.body.append(view.header);
    store.setProfiles([profile({ state: "locked" })]);
    byId<HTMLInputElement>("unlock-pin").value = "24682468";
    byId("unlock-submit").click();
    await vi.waitFor(() => expect(byId("unlock-error").hidden).toBe(false));
    expect(byId("unlock-error").textContent).toContain("unlock your keychain (or log in again), then try again");
    expect(byId("status").hidden).toBe(true);
  });
});

describe("phone tab", () => {
  it("warns when a phone passkey's signature counter did not go up", () => {
    const outcome = {
      ceremony: "sign-in" as const,
      rpId: "example.com",
      credentialId: "ff",
      verified: true,
      linkedPhone: null,
      counterRegression: { stored: 8, reported: 3, at: 1 },
    };
    expect(outcomeText(outcome)).toContain("did not go up (3 after 8)");
    expect(outcomeText({ ...outcome, counterRegression: null })).not.toContain("Warning");
  });

  it("shows the QR code and the steps as events arrive, then the result", async () => {
    let send: ((e: PhoneEvent) => void) | null = null;
    let finish: (() => void) | null = null;
    const requests: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "phones_list") return [];
      if (cmd === "phone_run") {
        const a = args as { request: unknown; onEvent: Channel<PhoneEvent> };
        requests.push(a.request);
        send = (e) => a.onEvent.onmessage(e);
        return new Promise((resolve) => {
          finish = () =>
            resolve({ ceremony: "register", rpId: "example.com", credentialId: "ff", verified: true, linkedPhone: "Pixel 8", counterRegression: null });
        });
      }
      throw new Error(cmd);
    });
    const store = new Store();
    store.setProfiles([profile()]);
    const panel = document.createElement("section");
    document.body.append(panel);
    mountPhone(panel, store);
    byId<HTMLInputElement>("phone-site").value = "example.com";
    byId<HTMLInputElement>("phone-account").value = "ana";
    byId("phone-start").click();
    await vi.waitFor(() => expect(send).not.toBeNull());
    expect(requests).toEqual([
      { ceremony: "register", rpId: "example.com", userName: "ana", phone: null, rememberPhone: true },
    ]);
    const base = { flow: 3, qrUrl: null, qrSvg: null, message: null };
    const svg = "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>";
    send!({ ...base, step: "qr-shown", elapsedMs: 12, qrUrl: "FIDO:/0123", qrSvg: svg });
    const img = document.querySelector<HTMLImageElement>("#phone-qr img");
    expect(img?.getAttribute("src")).toBe(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`);
    expect(img?.alt).not.toBe("");
    expect(byId("phone-qr").dataset["url"]).toBe("FIDO:/0123");
    expect(byId("phone-qr-url").textContent).toBe("FIDO:/0123");
    expect(byId("phone-cancel").hidden).toBe(false);
    send!({ ...base, step: "phone-nearby", elapsedMs: 1200 });
    const steps = [...document.querySelectorAll<HTMLLIElement>("#phone-steps li")];
    expect(steps.map((li) => `${li.dataset["step"]}:${li.dataset["state"]}`)).toEqual([
      "qr-shown:done",
      "phone-nearby:current",
      "relay-connected:pending",
      "secure-channel:pending",
      "waiting-for-approval:pending",
      "done:pending",
    ]);
    expect(steps[1]?.textContent).toContain("1.2 s");
    send!({ ...base, step: "done", elapsedMs: 5000, message: "Passkey created on Pixel 8." });
    finish!();
    await vi.waitFor(() => expect(byId("phone-result").dataset["state"]).toBe("ok"));
    expect(byId("phone-result").textContent).toContain("Passkey created on Pixel 8.");
    expect(byId("phone-cancel").hidden).toBe(true);
  });

  it("shows the failure sentence from Rust", async () => {
    mockIPC((cmd) => {
      if (cmd === "phones_list") return [{ name: "Pixel 8", linkedAt: NOW }];
      if (cmd === "phone_run") throw { code: "phone-failed", message: "The phone did not answer. Turn on Bluetooth and try again." };
      throw new Error(cmd);
    });
    const store = new Store();
    store.setProfiles([profile()]);
    const panel = document.createElement("section");
    document.body.append(panel);
    const view = mountPhone(panel, store);
    await view.reloadPhones();
    expect(document.querySelector('li.phone[data-name="Pixel 8"] .remove')).not.toBeNull();
    byId<HTMLSelectElement>("phone-ceremony").value = "sign-in";
    byId("phone-ceremony").dispatchEvent(new Event("change"));
    byId<HTMLSelectElement>("phone-linked").value = "Pixel 8";
    byId<HTMLInputElement>("phone-site").value = "example.com";
    byId("phone-start").click();
    await vi.waitFor(() => expect(byId("phone-result").dataset["state"]).toBe("error"));
    expect(byId("phone-result").textContent).toBe("The phone did not answer. Turn on Bluetooth and try again.");
  });

  it("ticks 'Remember this phone' as the settings say, unless the person changed it", () => {
    mockIPC(() => []);
    const panel = document.createElement("section");
    document.body.append(panel);
    const view = mountPhone(panel, new Store());
    const remember = byId<HTMLInputElement>("phone-remember");
    expect(remember.checked).toBe(true);
    view.setRememberDefault(false);
    expect(remember.checked).toBe(false);
    remember.checked = true; // the person's own choice for this ceremony
    view.setRememberDefault(false);
    expect(remember.checked).toBe(true);
  });

  it("asks for the site before starting", () => {
    mockIPC(() => []);
    const store = new Store();
    const panel = document.createElement("section");
    document.body.append(panel);
    mountPhone(panel, store);
    byId("phone-start").click();
    expect(byId("status").dataset["code"]).toBe("invalid-input");
    expect(document.activeElement).toBe(byId("phone-site"));
  });
});

describe("settings", () => {
  const VIEW = {
    policy: {
      source: null,
      minPinLength: 4,
      allowPassphraseOnly: false,
      maxAutoLockMinutes: 0,
      silentPresenceRps: [],
      maxPromptsPerMinute: 6,
      startAtLogin: null as boolean | null,
    },
    settings: {
      autoLockMinutes: 15,
      relay: null,
      proxy: null,
      air: null,
      phoneTimeoutSecs: 60,
      logLevel: "info",
      securityKey: false,
      startAtLogin: false,
      rememberPhones: true,
    },
    securityKey: "udp://127.0.0.1:8111",
    startsAtLogin: false as boolean | null,
  };

  it("shows the policy and saves empty text as null, pointing at the field a refusal names", async () => {
    const saved: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "settings_get") return VIEW;
      if (cmd === "settings_save") {
        saved.push(args);
        throw { code: "invalid-input", message: "relay: 'x' is not a ws:// or wss:// URL" };
      }
      throw new Error(cmd);
    });
    const panel = document.createElement("section");
    document.body.append(panel);
    const view = mountSettings(panel);
    await view.load();
    expect(byId("policy").textContent).toContain("built-in defaults");
    expect(byId("policy").textContent).toContain("No limit");

    expect(byId("security-key").textContent).toBe("Security key: udp://127.0.0.1:8111");
    expect(byId<HTMLInputElement>("set-security-key").checked).toBe(false);
    // The test plumbing waits under Advanced, closed while nothing is set there.
    expect(byId<HTMLDetailsElement>("settings-advanced").open).toBe(false);
    expect(byId("settings-advanced").contains(byId("set-relay"))).toBe(true);
    expect(byId("settings-advanced").contains(byId("set-autolock"))).toBe(false);
    expect(byId<HTMLInputElement>("set-start-at-login").disabled).toBe(false);
    byId<HTMLInputElement>("set-start-at-login").checked = true;
    expect(byId<HTMLInputElement>("set-remember-phones").checked).toBe(true);
    byId<HTMLInputElement>("set-remember-phones").checked = false;
    byId<HTMLInputElement>("set-relay").value = "x";
    byId<HTMLInputElement>("set-autolock").value = "5";
    byId<HTMLInputElement>("set-security-key").checked = true;
    byId("settings-save").click();
    await vi.waitFor(() => expect(byId("settings-status").dataset["state"]).toBe("error"));
    expect(saved).toEqual([
      {
        settings: {
          autoLockMinutes: 5,
          relay: "x",
          proxy: null,
          air: null,
          phoneTimeoutSecs: 60,
          logLevel: "info",
          securityKey: true,
          startAtLogin: true,
          rememberPhones: false,
        },
      },
    ]);
    // The refused field is brought into view, Advanced opened for it.
    expect(byId<HTMLDetailsElement>("settings-advanced").open).toBe(true);
    expect(document.activeElement).toBe(byId("set-relay"));
    expect(byId("settings-status").textContent).toContain("Relay:");
  });
});

describe("settings set by the administrator", () => {
  it("marks them, and keeps the person's own choice while the policy decides", async () => {
    const saved: { settings: { startAtLogin: boolean } }[] = [];
    const view = {
      policy: {
        source: "/etc/passbridge/policy.toml",
        minPinLength: 6,
        allowPassphraseOnly: false,
        maxAutoLockMinutes: 10,
        silentPresenceRps: [],
        maxPromptsPerMinute: 10,
        startAtLogin: true,
      },
      settings: {
        autoLockMinutes: 5,
        relay: "wss://relay.example",
        proxy: null,
        air: null,
        phoneTimeoutSecs: 120,
        logLevel: "info",
        securityKey: false,
        startAtLogin: false,
        rememberPhones: true,
      },
      securityKey: null,
      startsAtLogin: true,
    };
    mockIPC((cmd, args) => {
      if (cmd === "settings_get") return view;
      if (cmd === "settings_save") {
        saved.push(args as { settings: { startAtLogin: boolean } });
        return view;
      }
      throw new Error(cmd);
    });
    const panel = document.createElement("section");
    document.body.append(panel);
    await mountSettings(panel).load();
    const login = byId<HTMLInputElement>("set-start-at-login");
    expect(login.checked).toBe(true);
    expect(login.disabled).toBe(true);
    expect(byId("set-start-at-login-hint").textContent).toContain("Set by your administrator.");
    expect(login.closest(".field")?.classList.contains("admin-set")).toBe(true);
    expect(byId("set-autolock-hint").textContent).toContain("Set by your administrator. At most 10 minutes.");
    expect(byId("policy").textContent).toContain("Always");
    // A relay someone set stays in sight.
    expect(byId<HTMLDetailsElement>("settings-advanced").open).toBe(true);
    byId("settings-save").click();
    await vi.waitFor(() => expect(saved).toHaveLength(1));
    expect(saved[0]?.settings.startAtLogin).toBe(false);
  });

  it("does not call the built-in defaults the administrator's", async () => {
    const view = {
      policy: { source: null, minPinLength: 6, allowPassphraseOnly: false, maxAutoLockMinutes: 15, silentPresenceRps: [], maxPromptsPerMinute: 10, startAtLogin: null },
      settings: { autoLockMinutes: 15, relay: null, proxy: null, air: null, phoneTimeoutSecs: 120, logLevel: "info", securityKey: false, startAtLogin: false, rememberPhones: true },
      securityKey: null,
      startsAtLogin: false,
    };
    mockIPC((cmd) => {
      if (cmd === "settings_get") return view;
      throw new Error(cmd);
    });
    const panel = document.createElement("section");
    document.body.append(panel);
    await mountSettings(panel).load();
    expect(byId("set-autolock").closest(".field")?.classList.contains("admin-set")).toBe(false);
    expect(byId("set-autolock-hint").textContent).toContain("At most 15 minutes.");
    expect(byId("set-autolock-hint").textContent).not.toContain("Set by your administrator");
    expect(byId<HTMLInputElement>("set-start-at-login").disabled).toBe(false);
  });

  it("says so where the system cannot start anything at login", () => {
    const base = { policy: { startAtLogin: null }, startsAtLogin: null } as const;
    expect(loginHintText(base as never)).toBe("This system has no way to start Passbridge at login.");
  });
});

describe("diagnostics", () => {
  const CHECKS = [
    { area: "policy", areaLabel: "policy", status: "pass", message: "policy read from /etc/passbridge/policy.toml" },
    { area: "keychain", areaLabel: "keychain", status: "fail", message: "the OS keychain (Secret Service) cannot be used: locked; log in to a desktop session (or start gnome-keyring and unlock it) and run doctor again" },
    { area: "security-key", areaLabel: "security key", status: "warn", message: "/etc/udev/rules.d/70-passbridge.rules is missing" },
  ] as const;

  const NETWORK = [
    { area: "network", areaLabel: "network", status: "pass", message: "relay 127.0.0.1:8787: reachable (name lookup 0.1 ms, connection 0.2 ms, WebSocket upgrade 1.0 ms)" },
  ] as const;

  it("runs the checks and shows each with its outcome and what to do", async () => {
    const calls: string[] = [];
    let step: ((s: NetStepView) => void) | undefined;
    let finish: ((checks: unknown) => void) | undefined;
    mockIPC((cmd, args) => {
      calls.push(cmd);
      if (cmd === "diagnostics_run") return CHECKS;
      if (cmd === "diagnostics_network") {
        const a = args as { onlyRelay: boolean; onStep: Channel<NetStepView> };
        expect(a.onlyRelay).toBe(false);
        step = (s) => a.onStep.onmessage(s);
        return new Promise((resolve) => (finish = resolve));
      }
      throw new Error(cmd);
    });
    const panel = document.createElement("section");
    document.body.append(panel);
    mountDiagnostics(panel);
    expect(calls).toEqual([]);
    byId("diagnostics-run").click();
    await vi.waitFor(() => expect(document.querySelectorAll("#diagnostics li.check")).toHaveLength(3));
    const keychain = document.querySelector<HTMLElement>('li.check[data-area="keychain"]')!;
    expect(keychain.dataset["status"]).toBe("fail");
    expect(keychain.querySelector(".badge")?.textContent).toBe("Fail");
    expect(keychain.textContent).toContain("run doctor again");
    // The network checks run next, each step shown as it starts, with a way to stop them.
    await vi.waitFor(() => expect(step).toBeDefined());
    expect(byId("diagnostics-summary").textContent).toBe("Checking the network…");
    expect(byId("diagnostics-cancel").hidden).toBe(false);
    step!({ host: "cable.ua5v.com", step: "tls", label: "TLS" });
    expect(byId("diagnostics-step").textContent).toBe("Checking cable.ua5v.com: TLS…");
    finish!(NETWORK);
    await vi.waitFor(() => expect(document.querySelectorAll("#diagnostics li.check")).toHaveLength(4));
    expect(document.querySelector('li.check[data-area="network"]')?.textContent).toContain("reachable");
    expect(byId("diagnostics-summary").textContent).toBe("2 passed, 1 to look at, 1 failed");
    expect(byId("diagnostics-summary").dataset["state"]).toBe("error");
    expect(byId("diagnostics-cancel").hidden).toBe(true);
    expect(byId("diagnostics-step").hidden).toBe(true);
    expect(summaryText([])).toBe("0 passed, 0 to look at, 0 failed");
  });

  it("stops the network checks when asked and says so", async () => {
    const calls: string[] = [];
    let finish: ((checks: unknown) => void) | undefined;
    mockIPC((cmd, args) => {
      calls.push(cmd);
      if (cmd === "diagnostics_run") return CHECKS.slice(0, 1);
      if (cmd === "diagnostics_network") {
        expect((args as { onlyRelay: boolean }).onlyRelay).toBe(true);
        return new Promise((resolve) => (finish = resolve));
      }
      if (cmd === "diagnostics_cancel") {
        finish!(null);
        return null;
      }
      throw new Error(cmd);
    });
    const panel = document.createElement("section");
    document.body.append(panel);
    mountDiagnostics(panel);
    byId<HTMLInputElement>("diagnostics-only-relay").checked = true;
    byId("diagnostics-run").click();
    await vi.waitFor(() => expect(finish).toBeDefined());
    byId("diagnostics-cancel").click();
    await vi.waitFor(() =>
      expect(byId("diagnostics-summary").textContent).toBe("1 passed, 0 to look at, 0 failed. The network checks were stopped."),
    );
    expect(calls).toEqual(["diagnostics_run", "diagnostics_network", "diagnostics_cancel"]);
    expect(byId<HTMLButtonElement>("diagnostics-run").disabled).toBe(false);
  });

  it("runs the cross-device test, showing each phase and the QR code, then the verdict", async () => {
    let phase: ((p: TestPhaseView) => void) | undefined;
    let finish: ((r: unknown) => void) | undefined;
    const calls: string[] = [];
    mockIPC((cmd, args) => {
      calls.push(cmd);
      if (cmd === "diagnostics_test") {
        const a = args as { virtualPhone: boolean; onPhase: Channel<TestPhaseView> };
        expect(a.virtualPhone).toBe(false);
        phase = (p) => a.onPhase.onmessage(p);
        return new Promise((resolve) => (finish = resolve));
      }
      throw new Error(cmd);
    });
    const panel = document.createElement("section");
    document.body.append(panel);
    mountDiagnostics(panel);
    byId("diagnostics-test").click();
    await vi.waitFor(() => expect(phase).toBeDefined());
    expect(byId<HTMLButtonElement>("diagnostics-test").disabled).toBe(true);
    const base = { ceremony: "registration", ceremonyLabel: "registration", atMs: 1.4 } as const;
    phase!({ ...base, phase: "qr-shown", label: "QR code shown", qrSvg: "<svg/>" });
    expect(byId("diagnostics-test-qr").hidden).toBe(false);
    expect(byId("diagnostics-test-qr").querySelector("img")?.getAttribute("src")).toContain("data:image/svg+xml");
    phase!({ ...base, phase: "tunnel-connected", label: "tunnel connected", atMs: 912.6, qrSvg: null });
    expect(byId("diagnostics-test-qr").hidden).toBe(true);
    expect(byId("diagnostics-test-step").textContent).toBe("Registration: tunnel connected (913 ms)");
    finish!({
      passed: false,
      summary: "Failed: the registration stopped before \u201chandshake done\u201d.",
      fix: "The phone hung up during the secure handshake.",
      facts: [["On an Android phone, look for", "phone status HANDSHAKE_COMPLETE; phone errors HANDSHAKE_FAILED"]],
    });
    await vi.waitFor(() => expect(byId("diagnostics-test-result").hidden).toBe(false));
    const result = byId("diagnostics-test-result");
    expect(result.dataset["state"]).toBe("error");
    expect(result.querySelector(".verdict")?.textContent).toContain("stopped before");
    expect(result.querySelector(".fix")?.textContent).toContain("hung up");
    expect(result.querySelector("dd")?.textContent).toContain("HANDSHAKE_FAILED");
    expect(byId<HTMLButtonElement>("diagnostics-test").disabled).toBe(false);
    expect(byId("diagnostics-test-step").hidden).toBe(true);
    expect(calls).toEqual(["diagnostics_test"]);
  });

  it("exports the report and offers to open it", async () => {
    const calls: Array<[string, unknown]> = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      if (cmd === "diagnostics_export") return "/home/ana/Downloads/passbridge-report-x/report.html";
      if (cmd === "diagnostics_open_report") return null;
      throw new Error(cmd);
    });
    const panel = document.createElement("section");
    document.body.append(panel);
    mountDiagnostics(panel);
    byId("diagnostics-export").click();
    await vi.waitFor(() => expect(byId("diagnostics-report-path").textContent).toContain("report.html"));
    byId("diagnostics-open-report").click();
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    expect(calls[1]).toEqual(["diagnostics_open_report", { path: "/home/ana/Downloads/passbridge-report-x/report.html" }]);
    expect(phaseText({ ceremony: "sign-in", ceremonyLabel: "sign-in", phase: "verified", label: "verified", atMs: 4.4, qrSvg: null })).toBe(
      "Sign-in: verified (4 ms)",
    );
  });

  it("says why the checks could not run", async () => {
    mockIPC(() => {
      throw { code: "internal", message: "state lock poisoned" };
    });
    const panel = document.createElement("section");
    document.body.append(panel);
    await mountDiagnostics(panel).run();
    expect(byId("diagnostics-summary").textContent).toContain("state lock poisoned");
    expect(byId<HTMLButtonElement>("diagnostics-run").disabled).toBe(false);
  });
});

describe("tabs", () => {
  it("moves between tabs with the arrow keys", () => {
    const panels = ["a", "b", "c"].map((id) => {
      const p = document.createElement("section");
      p.id = `panel-${id}`;
      return p;
    });
    const tabs = mountTabs(panels.map((panel, i) => ({ id: `tab-${i}`, label: `T${i}`, panel })));
    document.body.append(tabs.list, ...panels);
    const first = byId("tab-0");
    expect(first.getAttribute("aria-selected")).toBe("true");
    expect(panels[1]?.hidden).toBe(true);
    first.focus();
    first.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
    expect(byId("tab-1").getAttribute("aria-selected")).toBe("true");
    expect(document.activeElement).toBe(byId("tab-1"));
    expect(panels[1]?.hidden).toBe(false);
    expect(panels[0]?.hidden).toBe(true);
    byId("tab-1").dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowLeft", bubbles: true }));
    byId("tab-0").dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowLeft", bubbles: true }));
    expect(byId("tab-2").getAttribute("aria-selected")).toBe("true");
  });
});
