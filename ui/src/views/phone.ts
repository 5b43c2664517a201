// The Phone tab: create a passkey on a phone or sign in with one (QR code or a linked phone),
// the live step list, and the linked phones.
import { elapsedLabel, errorText, formatDate } from "../format";
import { cancelPhone, listPhones, removePhone, runPhone } from "../ipc/client";
import type { LinkedPhoneView, PhoneCeremony, PhoneOutcome, PhoneRequest } from "../ipc/bindings";
import { button, checkField, closeDialog, dialog, field, h, onSubmit, openDialog, replace, show } from "../dom";
import { applyEvent, initialModel, type PhoneModel, type StepRow } from "../state";
import { reportError } from "../status";
import type { Store } from "../store";

export interface PhoneView {
  reloadPhones(): Promise<void>;
  /** Whether "Remember this phone" starts ticked (the user's setting). */
  setRememberDefault(on: boolean): void;
  dialogs: HTMLDialogElement[];
}

export interface PhoneOptions {
  /** Called after a ceremony (passkeys and profile counts may have changed). */
  onFinished?: () => void;
}

/** The `<img>` source for an SVG document. */
export function svgDataUrl(svg: string): string {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

/** The result line of a finished ceremony (`said`: the message of the `done` event, if any). */
export function outcomeText(o: PhoneOutcome, said: string | null = null): string {
  const what =
    said !== null && said.trim() !== ""
      ? said.trim()
      : o.ceremony === "register"
        ? `Passkey created on your phone for ${o.rpId}.`
        : `Signed in to ${o.rpId} with your phone.`;
  const verified = o.verified ? "" : " The phone's answer could not be verified.";
  // The done event's message already carries the warning when there is one.
  const regression =
    o.counterRegression !== null && (said === null || said.trim() === "")
      ? ` Warning: the passkey's signature counter did not go up (${o.counterRegression.reported} after ${o.counterRegression.stored}), so it may have been copied to another device.`
      : "";
  const linked = o.linkedPhone ? ` “${o.linkedPhone}” is remembered: next time choose it instead of scanning a QR code.` : "";
  return what + verified + regression + linked;
}

/**
 * Shows the model's QR code in `qr` (an `<img>` of the SVG and a "Can't scan it?" link in a
 * `<code id=urlId>`), with `data-url` set to the `FIDO:/` text; hides `qr` when there is none.
 */
export function renderQr(qr: HTMLElement, m: PhoneModel, urlId: string): void {
  if (m.qrSvg !== null && m.qrUrl !== null) {
    if (qr.dataset["url"] !== m.qrUrl) {
      const img = h("img", {
        src: svgDataUrl(m.qrSvg),
        alt: "QR code to scan with your phone's camera",
        class: "qr-image",
      });
      const details = h(
        "details",
        {},
        h("summary", {}, "Can't scan it?"),
        h("p", {}, "Open this link on your phone:"),
        h("code", { id: urlId, class: "wrap" }, m.qrUrl),
      );
      replace(qr, img, details);
      qr.dataset["url"] = m.qrUrl;
    }
    qr.hidden = false;
  } else {
    qr.replaceChildren();
    delete qr.dataset["url"];
    qr.hidden = true;
  }
}

/** Fills the step list: one `li[data-step][data-state]` a step, with the time it was reached. */
export function renderSteps(list: HTMLOListElement, rows: readonly StepRow[]): void {
  replace(
    list,
    ...rows.map((r) =>
      h(
        "li",
        { "data-step": r.step, "data-state": r.state, "aria-current": r.state === "current" ? "step" : false },
        h("span", { class: "step-label" }, r.label),
        r.elapsedMs !== null && h("span", { class: "elapsed" }, elapsedLabel(r.elapsedMs)),
        h("span", { class: "visually-hidden" }, ` (${r.state})`),
      ),
    ),
  );
}

export function mountPhone(panel: HTMLElement, store: Store, options: PhoneOptions = {}): PhoneView {
  const ceremony = h(
    "select",
    { id: "phone-ceremony" },
    h("option", { value: "register" }, "Create a passkey on my phone"),
    h("option", { value: "sign-in" }, "Sign in with my phone"),
  );
  const site = h("input", {
    id: "phone-site",
    type: "text",
    inputmode: "url",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "example.com",
    required: true,
  });
  const account = h("input", { id: "phone-account", type: "text", autocomplete: "off", spellcheck: "false" });
  const linked = h("select", { id: "phone-linked" });
  const remember = h("input", { id: "phone-remember", type: "checkbox", checked: true });
  const start = h("button", { id: "phone-start", type: "submit", class: "primary" }, "Start");
  const accountField = field("Account", account, "The account name on the site, for example you@example.com.");
  const rememberField = checkField("Remember this phone", remember);
  const fields = h(
    "fieldset",
    { class: "plain" },
    h("legend", { class: "visually-hidden" }, "Phone request"),
    field("What to do", ceremony),
    field("Site", site, "The site's domain, for example example.com."),
    accountField,
    field("Phone", linked),
    rememberField,
  );
  const form = h("form", { id: "phone-form", class: "card form", novalidate: true }, fields, h("div", { class: "actions" }, start));

  const qr = h("div", { id: "phone-qr", class: "qr" });
  const steps = h("ol", { id: "phone-steps", class: "steps" });
  const cancel = button("Cancel", { id: "phone-cancel" });
  const result = h("p", { id: "phone-result", role: "status" });
  const progress = h(
    "section",
    { id: "phone-progress", class: "card", "aria-labelledby": "phone-progress-title" },
    h("h3", { id: "phone-progress-title" }, "Progress"),
    qr,
    steps,
    h("div", { class: "actions" }, cancel),
    result,
  );
  progress.hidden = true;
  cancel.hidden = true;
  result.hidden = true;

  const phones = h("ul", { id: "phones", class: "cards" });
  const phonesEmpty = h("p", { id: "phones-empty", class: "muted" });
  const phonesSection = h(
    "section",
    { class: "linked-phones", "aria-labelledby": "phones-title" },
    h("h3", { id: "phones-title" }, "Linked phones"),
    h("p", { class: "muted" }, "A linked phone can be reached without scanning a QR code."),
    phones,
    phonesEmpty,
  );

  panel.append(h("h2", {}, "Phone"), form, progress, phonesSection);

  let model: PhoneModel | null = null;
  let running = false;
  let cancelWanted = false;
  let linkedPhones: LinkedPhoneView[] = [];

  function syncForm(): void {
    const register = ceremony.value === "register";
    show(accountField, register);
    account.required = register;
    show(rememberField, linked.value === "");
  }
  ceremony.addEventListener("change", syncForm);
  linked.addEventListener("change", syncForm);

  function renderLinkedSelect(): void {
    const current = linked.value;
    replace(
      linked,
      h("option", { value: "" }, "Show a QR code"),
      ...linkedPhones.map((p) => h("option", { value: p.name }, p.name)),
    );
    linked.value = linkedPhones.some((p) => p.name === current) ? current : "";
    syncForm();
  }

  function renderProgress(): void {
    const m = model;
    show(progress, m !== null);
    if (!m) return;
    renderQr(qr, m, "phone-qr-url");
    renderSteps(steps, m.rows);
    show(cancel, running);
  }

  function setResult(state: "ok" | "error", text: string): void {
    result.dataset["state"] = state;
    result.textContent = text;
    result.hidden = false;
  }

  function invalid(input: HTMLInputElement, message: string): void {
    input.setAttribute("aria-invalid", "true");
    reportError({ code: "invalid-input", message });
    input.focus();
  }

  onSubmit(form, () => {
    if (running) return;
    site.removeAttribute("aria-invalid");
    account.removeAttribute("aria-invalid");
    const rpId = site.value.trim();
    const kind = ceremony.value as PhoneCeremony;
    if (rpId === "") return invalid(site, "Enter the site, for example example.com.");
    const userName = account.value.trim();
    if (kind === "register" && userName === "") return invalid(account, "Enter the account to create the passkey for.");
    const phone = linked.value === "" ? null : linked.value;
    const request: PhoneRequest = {
      ceremony: kind,
      rpId,
      userName: kind === "register" ? userName : null,
      phone,
      rememberPhone: phone === null && remember.checked,
    };
    running = true;
    cancelWanted = false;
    fields.disabled = true;
    start.disabled = true;
    result.hidden = true;
    model = initialModel(phone);
    renderProgress();
    cancel.focus();
    void (async () => {
      try {
        const outcome = await runPhone(request, (event) => {
          if (!model) return;
          model = applyEvent(model, event);
          if (cancelWanted) {
            cancelWanted = false;
            void cancelPhone(event.flow).catch(reportError);
          }
          renderProgress();
        });
        const said = model?.message ?? null;
        if (model) {
          model = applyEvent(model, {
            flow: model.flow ?? 0,
            step: "done",
            elapsedMs: model.rows.reduce((ms, r) => Math.max(ms, r.elapsedMs ?? 0), 0),
            qrUrl: null,
            qrSvg: null,
            message: null,
          });
        }
        setResult("ok", outcomeText(outcome, said));
      } catch (e) {
        const err = reportError(e);
        if (model && model.finished === null) {
          if (model.flow === null) model = null; // refused before it started: no steps to show
          else
            model = applyEvent(model, {
              flow: model.flow,
              step: err.code === "cancelled" ? "cancelled" : "failed",
              elapsedMs: 0,
              qrUrl: null,
              qrSvg: null,
              message: err.message,
            });
        }
        setResult("error", err.code === "cancelled" ? "Cancelled." : errorText(err));
      } finally {
        running = false;
        fields.disabled = false;
        start.disabled = false;
        renderProgress();
        if (model === null) {
          // Refused before it started: show the result, no steps.
          progress.hidden = false;
          steps.replaceChildren();
          qr.hidden = true;
        }
        void reloadPhones();
        options.onFinished?.();
      }
    })();
  });

  cancel.addEventListener("click", () => {
    const flow = model?.flow ?? null;
    if (flow === null) {
      cancelWanted = true;
      return;
    }
    void cancelPhone(flow).catch(reportError);
  });

  // Removing a linked phone.
  let removing: string | null = null;
  const rm = dialog("confirm-remove-phone", "Remove linked phone?", () => closeDialog(rm.dialog));
  const rmText = h("p", { id: "confirm-remove-text" });
  const rmYes = h("button", { id: "confirm-remove-yes", type: "submit", class: "danger" }, "Remove");
  const rmNo = button("Keep it", { id: "confirm-remove-no" });
  rm.body.append(rmText, h("div", { class: "actions" }, rmYes, rmNo));
  rmNo.addEventListener("click", () => closeDialog(rm.dialog));
  onSubmit(rm.body, () => {
    const name = removing;
    if (name === null) return;
    void (async () => {
      try {
        linkedPhones = await removePhone(name);
        renderPhones();
      } catch (e) {
        reportError(e);
      } finally {
        closeDialog(rm.dialog);
      }
    })();
  });

  function renderPhones(): void {
    replace(
      phones,
      ...linkedPhones.map((p) => {
        const remove = button("Remove", { class: "remove danger", "aria-label": `Remove linked phone ${p.name}` });
        remove.addEventListener("click", () => {
          removing = p.name;
          rmText.textContent = `Remove “${p.name}”? To use it again you will scan a QR code. Passkeys on the phone stay on the phone.`;
          openDialog(rm.dialog, rmNo);
        });
        return h(
          "li",
          { class: "phone card", "data-name": p.name },
          h("span", { class: "phone-name" }, p.name),
          h("span", { class: "muted" }, `Linked ${formatDate(p.linkedAt)}`),
          h("div", { class: "actions" }, remove),
        );
      }),
    );
    show(phones, linkedPhones.length > 0);
    phonesEmpty.textContent =
      "No linked phones. When you scan a QR code with “Remember this phone” ticked, the phone is linked here.";
    show(phonesEmpty, linkedPhones.length === 0);
    renderLinkedSelect();
  }

  async function reloadPhones(): Promise<void> {
    const active = store.active();
    if (!active || active.state !== "unlocked") {
      linkedPhones = [];
      renderPhones();
      phonesEmpty.textContent = active
        ? `Unlock “${active.name}” to see its linked phones.`
        : "Create a profile to link phones.";
      return;
    }
    try {
      linkedPhones = await listPhones();
      renderPhones();
    } catch (e) {
      const err = reportError(e);
      if (err.code === "locked" || err.code === "no-active-profile") {
        linkedPhones = [];
        renderPhones();
      }
    }
  }

  store.onActiveChange(() => void reloadPhones());
  renderPhones();

  // The setting applies to the next ceremony, not to one the person is setting up now.
  let rememberDefault = true;
  function setRememberDefault(on: boolean): void {
    if (remember.checked === rememberDefault) remember.checked = on;
    rememberDefault = on;
  }

  return { reloadPhones, setRememberDefault, dialogs: [rm.dialog] };
}
