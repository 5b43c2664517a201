// The request dialog: a site asks the active profile to create a passkey or sign in.
import { accountLabel, errorText, siteLabel } from "../format";
import { answerRequest, toAppError, unlockProfile } from "../ipc/client";
import type { AppError, ProfileView, RequestView } from "../ipc/bindings";
import { button, closeDialog, dialog, field, h, openDialog, replace, show } from "../dom";
import { reportError, reportInfo } from "../status";

export interface RequestDialog {
  dialog: HTMLDialogElement;
  /** Shows a request, or closes the dialog for `null`. */
  show(request: RequestView | null): void;
  current(): RequestView | null;
}

export interface RequestOptions {
  /** The new profile list after an unlock from the dialog. */
  onProfiles?: (profiles: ProfileView[]) => void;
  /** After the dialog closes: a passkey may have been created or used. */
  onClosed?: () => void;
}

/** "wants to create a passkey for ana" / "wants you to sign in". */
export function kindText(r: RequestView): string {
  switch (r.kind) {
    case "register": {
      const who = r.userName ?? r.displayName;
      return who ? `wants to create a passkey for ${who}` : "wants to create a passkey";
    }
    case "sign-in":
      return "wants you to sign in";
    case "confirm":
      return "wants you to confirm it is you";
  }
}

export function mountRequest(options: RequestOptions = {}): RequestDialog {
  let request: RequestView | null = null;
  let busy = false;

  const d = dialog("request-dialog", "Passkey request", () => {
    // Esc declines (or "Not now" for a locked profile).
    void decline();
  });
  const siteEl = h("strong", { id: "request-site" });
  const kindEl = h("span", { id: "request-kind" });
  const profileEl = h("strong", { id: "request-profile" });
  const summaryEl = h("p", { id: "request-summary", class: "muted" });
  const errorEl = h("p", { id: "request-error", class: "field-error" });

  // Locked profile.
  const unlockPin = h("input", { id: "request-unlock-pin", type: "password", autocomplete: "current-password" });
  const unlockBtn = h("button", { id: "request-unlock", type: "button", class: "primary" }, "Unlock");
  const notNow = button("Not now", { id: "request-not-now" });
  const lockedText = h("p", { id: "request-locked" });
  const lockedPart = h(
    "div",
    { class: "request-locked" },
    lockedText,
    field("PIN", unlockPin),
    h("div", { class: "actions" }, unlockBtn, notNow),
  );

  // Unlocked profile.
  const accounts = h("fieldset", { id: "request-accounts", class: "accounts" });
  const pin = h("input", { id: "request-pin", type: "password", autocomplete: "current-password" });
  const pinField = field("PIN", pin);
  const noPin = h("p", { id: "request-no-pin", class: "notice" });
  const approve = h("button", { id: "request-approve", type: "submit", class: "primary" }, "Approve");
  const declineBtn = button("Decline", { id: "request-decline" });
  const answerPart = h("div", { class: "request-answer" }, accounts, pinField, noPin, h("div", { class: "actions" }, approve, declineBtn));

  d.body.append(
    h("p", { class: "request-what" }, siteEl, " ", kindEl),
    h("p", {}, "Profile: ", profileEl),
    summaryEl,
    lockedPart,
    answerPart,
    errorEl,
  );

  function say(text: string | null): void {
    errorEl.textContent = text ?? "";
    errorEl.hidden = text === null;
  }

  function setBusy(b: boolean): void {
    busy = b;
    for (const el of [unlockBtn, notNow, declineBtn]) el.disabled = b;
    approve.disabled = b || (request !== null && request.needsVerification && !request.canVerify);
  }

  function render(r: RequestView): void {
    siteEl.textContent = siteLabel(r.rpName, r.rpId);
    kindEl.textContent = kindText(r);
    profileEl.textContent = r.profile;
    summaryEl.textContent = r.summary;
    say(null);
    show(lockedPart, r.locked);
    show(answerPart, !r.locked);
    if (r.locked) {
      lockedText.textContent =
        `The profile “${r.profile}” is locked, so this request cannot be answered now: the site is told “not allowed”. ` +
        `Unlock the profile, then ask the site to try again.`;
      const label = lockedPart.querySelector("label");
      if (label) label.textContent = `PIN for ${r.profile}`;
      unlockPin.value = "";
    } else {
      if (r.accounts.length > 1) {
        const radios = r.accounts.map((a, i) => {
          const id = `request-account-${i}`;
          const input = h("input", { type: "radio", name: "account", id, value: a.id, checked: i === 0 });
          return h("div", { class: "check" }, input, h("label", { for: id }, accountLabel(a.displayName, a.userName)));
        });
        replace(accounts, h("legend", {}, "Account"), ...radios);
        accounts.hidden = false;
      } else {
        accounts.replaceChildren();
        accounts.hidden = true;
      }
      pin.value = "";
      pin.required = r.needsVerification;
      show(pinField, r.canVerify);
      const label = pinField.querySelector("label");
      if (label) label.textContent = r.needsVerification ? `PIN for ${r.profile}` : `PIN for ${r.profile} (optional)`;
      const cannot = r.needsVerification && !r.canVerify;
      noPin.textContent = cannot
        ? `This site asks to verify it is you, but the profile “${r.profile}” has no PIN, so Passbridge cannot verify you. ` +
          `Decline, or use a profile with a PIN.`
        : "";
      show(noPin, cannot);
      approve.textContent = r.kind === "register" ? "Create passkey" : r.kind === "sign-in" ? "Sign in" : "Approve";
    }
    setBusy(false);
  }

  function close(): void {
    const was = request;
    request = null;
    closeDialog(d.dialog);
    if (was) options.onClosed?.();
  }

  function showRequest(r: RequestView | null): void {
    if (r === null) {
      // The authenticator has carried the answer out (or the site gave up): reload now.
      close();
      options.onClosed?.();
      return;
    }
    const same = request !== null && request.id === r.id && d.dialog.open;
    request = r;
    if (same) return;
    render(r);
    const first = r.locked ? unlockPin : r.canVerify ? (r.accounts.length > 1 ? accounts.querySelector<HTMLInputElement>("input") : pin) : approve.disabled ? declineBtn : approve;
    openDialog(d.dialog, first ?? undefined);
  }

  function handleAnswerError(e: unknown): AppError {
    // The dialog says what went wrong inside itself; only a request that is gone (the dialog
    // closes) is reported in the window's status region.
    const err = toAppError(e);
    if (err.code === "not-found") {
      reportError(err);
      close();
    } else if (err.code === "wrong-pin") {
      say("Wrong PIN. Try again.");
      pin.value = "";
      pin.focus();
    } else {
      say(errorText(err));
    }
    return err;
  }

  async function decline(): Promise<void> {
    const r = request;
    if (!r || busy) return;
    setBusy(true);
    try {
      await answerRequest({ id: r.id, approve: false, account: null, pin: null });
      close();
    } catch (e) {
      handleAnswerError(e);
    } finally {
      setBusy(false);
    }
  }

  async function approveRequest(): Promise<void> {
    const r = request;
    if (!r || busy || r.locked) return;
    if (r.needsVerification && !r.canVerify) return;
    if (r.needsVerification && pin.value === "") {
      say(`Enter the PIN of “${r.profile}” to continue.`);
      pin.focus();
      return;
    }
    let account: string | null = null;
    if (r.accounts.length > 1) {
      account = accounts.querySelector<HTMLInputElement>("input[name=account]:checked")?.value ?? r.accounts[0]?.id ?? null;
    } else if (r.accounts.length === 1) {
      account = r.accounts[0]?.id ?? null;
    }
    setBusy(true);
    try {
      await answerRequest({ id: r.id, approve: true, account, pin: r.canVerify && pin.value !== "" ? pin.value : null });
      close();
    } catch (e) {
      handleAnswerError(e);
    } finally {
      setBusy(false);
    }
  }

  async function unlock(): Promise<void> {
    const r = request;
    if (!r || busy) return;
    if (unlockPin.value === "") {
      say("Enter the PIN.");
      unlockPin.focus();
      return;
    }
    setBusy(true);
    try {
      const profiles = await unlockProfile(r.profile, unlockPin.value);
      options.onProfiles?.(profiles);
      // The locked request is refused either way; answering closes it.
      try {
        await answerRequest({ id: r.id, approve: false, account: null, pin: null });
      } catch {
        // Already gone: nothing to answer.
      }
      close();
      reportInfo(`“${r.profile}” is unlocked. Ask ${r.rpId ?? "the site"} to try again.`);
    } catch (e) {
      const err = toAppError(e);
      say(err.code === "wrong-pin" ? "Wrong PIN. Try again." : errorText(err));
      unlockPin.value = "";
      unlockPin.focus();
    } finally {
      setBusy(false);
    }
  }

  d.body.addEventListener("submit", () => void approveRequest());
  declineBtn.addEventListener("click", () => void decline());
  notNow.addEventListener("click", () => void decline());
  unlockBtn.addEventListener("click", () => void unlock());
  unlockPin.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      void unlock();
    }
  });

  return { dialog: d.dialog, show: showRequest, current: () => request };
}
