// The request dialog: a site asks the active profile to create a passkey or sign in, or the
// person answers it with a passkey on their phone instead (QR code and steps in the dialog).
import { accountLabel, errorText, nowSecs, siteLabel } from "../format";
import { answerRequest, cancelPhone, toAppError, unlockProfile } from "../ipc/client";
import type { AppError, PhoneEvent, ProfileView, RequestView } from "../ipc/bindings";
import { button, closeDialog, dialog, field, h, openDialog, replace, show } from "../dom";
import { applyEvent, initialModel, type PhoneModel } from "../state";
import { reportError, reportInfo } from "../status";
import { renderQr, renderSteps } from "./phone";

export interface RequestDialog {
  dialog: HTMLDialogElement;
  /** Shows a request, or closes the dialog for `null`. */
  show(request: RequestView | null): void;
  current(): RequestView | null;
  /** One step of the request sent to the phone (the `phone-progress` event). */
  phoneEvent(event: PhoneEvent): void;
}

export interface RequestOptions {
  /** The new profile list after an unlock from the dialog. */
  onProfiles?: (profiles: ProfileView[]) => void;
  /** After the dialog closes: a passkey may have been created or used. */
  onClosed?: () => void;
  /** After a request sent to the phone has ended (done, failed or cancelled). */
  onPhoneFinished?: () => void;
}

/** The result line of a request answered on the phone. */
export function phoneResultText(m: Pick<PhoneModel, "finished" | "message">): string {
  const said = m.message?.trim() ?? "";
  if (said !== "") return said;
  switch (m.finished) {
    case "done":
      return "Your phone answered the site.";
    case "cancelled":
      return "Cancelled.";
    default:
      return "The phone could not answer the request.";
  }
}

/** "Answer within 25 seconds." while the security key waits, and what a late answer meets. */
export function countdownText(expiresAt: number, now: number): string {
  const left = expiresAt - now;
  if (left <= 0) return "The site has stopped waiting.";
  return left === 1 ? "Answer within 1 second." : `Answer within ${left} seconds.`;
}

/** What the window says when a request goes away without an answer from here. */
export function endedText(r: Pick<RequestView, "rpName" | "rpId" | "expiresAt">, now: number): string {
  const site = siteLabel(r.rpName, r.rpId);
  if (now >= r.expiresAt - 1)
    return `The request from ${site} timed out, and the site was told. Ask it to try again when you are ready.`;
  return `${site} withdrew its request.`;
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
  // "answer": the usual dialog; "asking": the request is being handed to the phone (events may
  // already arrive); "phone": the dialog shows the phone's QR code and steps.
  let phase: "answer" | "asking" | "phone" = "answer";
  let phoneModel: PhoneModel | null = null;
  let cancelWanted = false;
  let endReported = false;

  const TITLE = "Passkey request";
  const d = dialog("request-dialog", TITLE, () => {
    if (phase === "answer") {
      // Esc declines (or "Not now" for a locked profile).
      void decline();
    } else if (phoneModel !== null && phoneModel.finished === null) {
      cancelCeremony();
    } else {
      close();
    }
  });
  const siteEl = h("strong", { id: "request-site" });
  const kindEl = h("span", { id: "request-kind" });
  const profileEl = h("strong", { id: "request-profile" });
  const profileLine = h("p", {}, "Profile: ", profileEl);
  const summaryEl = h("p", { id: "request-summary", class: "muted" });
  const countdownEl = h("p", { id: "request-countdown", class: "muted", role: "timer" });
  const whatEl = h("p", { class: "request-what" }, siteEl, " ", kindEl);
  let ticker: number | null = null;
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
  const usePhoneBtn = button("Use a phone instead", { id: "request-use-phone" });
  const usePhoneRow = h("div", { class: "actions request-alt" }, usePhoneBtn);
  const answerPart = h(
    "div",
    { class: "request-answer" },
    accounts,
    pinField,
    noPin,
    h("div", { class: "actions" }, approve, declineBtn),
    usePhoneRow,
  );

  // Answered on a phone.
  const phoneQr = h("div", { id: "request-phone-qr", class: "qr" });
  const phoneSteps = h("ol", { id: "request-phone-steps", class: "steps", "aria-label": "Steps" });
  const phoneCancel = button("Cancel", { id: "request-phone-cancel" });
  const phoneClose = button("Close", { id: "request-phone-close", class: "primary" });
  const phoneActions = h("div", { class: "actions" }, phoneCancel);
  const phoneResult = h("p", { id: "request-phone-result", role: "status" });
  const phonePart = h(
    "section",
    { id: "request-phone", class: "request-phone", "aria-label": "Progress on your phone" },
    h("p", { class: "muted" }, "Scan the QR code with your phone's camera, then approve the request on the phone."),
    phoneQr,
    phoneSteps,
    phoneResult,
    phoneActions,
  );
  phonePart.hidden = true;
  phoneQr.hidden = true;
  phoneResult.hidden = true;

  d.body.append(
    whatEl,
    profileLine,
    summaryEl,
    countdownEl,
    lockedPart,
    answerPart,
    phonePart,
    errorEl,
  );

  function say(text: string | null): void {
    errorEl.textContent = text ?? "";
    errorEl.hidden = text === null;
  }

  function setBusy(b: boolean): void {
    busy = b;
    for (const el of [unlockBtn, notNow, declineBtn, usePhoneBtn]) el.disabled = b;
    approve.disabled = b || (request !== null && request.needsVerification && !request.canVerify);
  }

  /** Leaves phone mode (if in it) without touching the dialog. */
  function resetPhone(): void {
    phase = "answer";
    phoneModel = null;
    cancelWanted = false;
    endReported = false;
  }

  /** Switches the dialog between the usual parts and the phone's progress. */
  function showPhoneView(on: boolean): void {
    d.heading.textContent = on ? "Use your phone" : TITLE;
    show(phonePart, on);
    show(profileLine, !on);
    show(summaryEl, !on && summaryWanted);
    show(countdownEl, !on);
    if (on) {
      lockedPart.hidden = true;
      answerPart.hidden = true;
    }
  }

  // The summary sentence names the site too: shown only where no site is named above it (a
  // program asking for a reset or to pick this key).
  let summaryWanted = false;

  function tick(): void {
    if (request !== null) countdownEl.textContent = countdownText(request.expiresAt, nowSecs());
  }

  function stopTicking(): void {
    if (ticker !== null) window.clearInterval(ticker);
    ticker = null;
  }

  function render(r: RequestView): void {
    summaryWanted = r.kind === "confirm" && (r.rpId === null || r.rpId === "");
    resetPhone();
    showPhoneView(false);
    siteEl.textContent = siteLabel(r.rpName, r.rpId);
    kindEl.textContent = kindText(r);
    show(whatEl, !summaryWanted);
    profileEl.textContent = r.profile;
    summaryEl.textContent = r.summary;
    stopTicking();
    tick();
    ticker = window.setInterval(tick, 1000);
    say(null);
    show(lockedPart, r.locked);
    show(answerPart, !r.locked);
    show(usePhoneBtn, r.canUsePhone && !r.locked);
    show(usePhoneRow, r.canUsePhone && !r.locked);
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
    stopTicking();
    resetPhone();
    closeDialog(d.dialog);
    if (was) options.onClosed?.();
  }

  function renderPhone(): void {
    const m = phoneModel;
    if (!m) return;
    renderQr(phoneQr, m, "request-phone-qr-url");
    renderSteps(phoneSteps, m.rows);
    if (m.finished === null) {
      if (phoneActions.firstChild !== phoneCancel) phoneActions.replaceChildren(phoneCancel);
      phoneResult.hidden = true;
    } else {
      if (phoneActions.firstChild !== phoneClose) phoneActions.replaceChildren(phoneClose);
      phoneResult.dataset["state"] = m.finished === "done" ? "ok" : "error";
      phoneResult.textContent = phoneResultText(m);
      phoneResult.hidden = false;
    }
  }

  /** Once per ceremony, when it has ended and the dialog shows it: focus Close, reload lists. */
  function reportEnd(): void {
    if (phase !== "phone" || endReported || phoneModel === null || phoneModel.finished === null) return;
    endReported = true;
    phoneClose.focus();
    options.onPhoneFinished?.();
  }

  function enterPhone(): void {
    phase = "phone";
    say(null);
    showPhoneView(true);
    renderPhone();
    if (phoneModel !== null && phoneModel.finished === null) phoneCancel.focus();
    reportEnd();
  }

  function phoneEvent(e: PhoneEvent): void {
    if (phase === "answer" || phoneModel === null) return;
    // Only the ceremony this dialog started: the first flow seen.
    if (phoneModel.flow !== null && e.flow !== phoneModel.flow) return;
    phoneModel = applyEvent(phoneModel, e);
    if (cancelWanted && phoneModel.finished === null) {
      cancelWanted = false;
      void cancelFlow(e.flow);
    }
    if (phase === "phone") {
      renderPhone();
      reportEnd();
    }
  }

  async function cancelFlow(flow: number): Promise<void> {
    phoneCancel.disabled = true;
    try {
      const cancelled = await cancelPhone(flow);
      // Not running any more: its last event says how it ended.
      if (!cancelled) phoneCancel.disabled = false;
    } catch (e) {
      phoneCancel.disabled = false;
      if (phase !== "answer") say(errorText(toAppError(e)));
    }
  }

  function cancelCeremony(): void {
    const m = phoneModel;
    if (!m || m.finished !== null) return;
    if (m.flow === null) {
      // No event has named the flow yet: cancel as soon as one does.
      cancelWanted = true;
      phoneCancel.disabled = true;
      return;
    }
    void cancelFlow(m.flow);
  }

  function showRequest(r: RequestView | null): void {
    if (r === null) {
      if (phase !== "answer" && d.dialog.open) {
        // Handed to the phone: the dialog stays to show the phone's steps; lists may reload.
        options.onClosed?.();
        return;
      }
      // The authenticator has carried the answer out (or the site gave up): reload now. Gone
      // while nobody here was answering it: the site gave up or timed out, and the person is told.
      const unanswered = request !== null && !busy && d.dialog.open ? request : null;
      close();
      options.onClosed?.();
      if (unanswered !== null) reportInfo(endedText(unanswered, nowSecs()));
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
      // The message counts the attempts left before the profile blocks.
      say(errorText(err));
      pin.value = "";
      pin.focus();
    } else {
      say(errorText(err));
    }
    return err;
  }

  async function decline(): Promise<void> {
    const r = request;
    if (!r || busy || phase !== "answer") return;
    setBusy(true);
    try {
      await answerRequest({ id: r.id, approve: false, account: null, pin: null, usePhone: false });
      close();
    } catch (e) {
      handleAnswerError(e);
    } finally {
      setBusy(false);
    }
  }

  async function approveRequest(): Promise<void> {
    const r = request;
    if (!r || busy || r.locked || phase !== "answer") return;
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
      await answerRequest({
        id: r.id,
        approve: true,
        account,
        pin: r.canVerify && pin.value !== "" ? pin.value : null,
        usePhone: false,
      });
      close();
    } catch (e) {
      handleAnswerError(e);
    } finally {
      setBusy(false);
    }
  }

  async function usePhone(): Promise<void> {
    const r = request;
    if (!r || busy || r.locked || !r.canUsePhone || phase !== "answer") return;
    // Events may come before the answer resolves: collect them from now on.
    phase = "asking";
    phoneModel = initialModel(null); // a site's request always starts with a QR code
    cancelWanted = false;
    endReported = false;
    phoneCancel.disabled = false;
    say(null);
    setBusy(true);
    try {
      await answerRequest({ id: r.id, approve: false, account: null, pin: null, usePhone: true });
      if (phase === "asking" && request === r) enterPhone();
    } catch (e) {
      if (phase === "asking" && request === r) {
        resetPhone();
        handleAnswerError(e);
      }
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
        await answerRequest({ id: r.id, approve: false, account: null, pin: null, usePhone: false });
      } catch {
        // Already gone: nothing to answer.
      }
      close();
      reportInfo(`“${r.profile}” is unlocked. Ask ${r.rpId ?? "the site"} to try again.`);
    } catch (e) {
      const err = toAppError(e);
      say(errorText(err));
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
  usePhoneBtn.addEventListener("click", () => void usePhone());
  phoneCancel.addEventListener("click", cancelCeremony);
  phoneClose.addEventListener("click", close);
  unlockPin.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      void unlock();
    }
  });

  return { dialog: d.dialog, show: showRequest, current: () => request, phoneEvent };
}
