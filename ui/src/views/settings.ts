// The Settings tab: the admin policy (read-only) and the user's own settings.
import { errorText } from "../format";
import { getSettings, saveSettings, toAppError } from "../ipc/client";
import type { LogLevel, PolicyView, SettingsView, UserSettings } from "../ipc/bindings";
import { checkField, field, h, onSubmit, replace } from "../dom";
import { reportError } from "../status";

export interface SettingsViewHandle {
  load(): Promise<void>;
}

/** Which field a "field: problem" message from `settings_save` is about. */
export function fieldForMessage(message: string): string | null {
  const head = message.split(":")[0]?.trim().toLowerCase() ?? "";
  if (head.includes("auto-lock") || head.includes("autolock") || head.includes("auto_lock")) return "set-autolock";
  if (head.includes("relay")) return "set-relay";
  if (head.includes("proxy")) return "set-proxy";
  if (head.includes("air") || head.includes("bluetooth")) return "set-air";
  if (head.includes("timeout")) return "set-timeout";
  if (head.includes("log")) return "set-loglevel";
  return null;
}

function nullable(input: HTMLInputElement): string | null {
  const v = input.value.trim();
  return v === "" ? null : v;
}

const AUTOLOCK_HINT = "An unlocked profile with a PIN locks itself after this many minutes without use. 0: the administrator's setting.";

/** The mark on a setting the administrator decides. */
export const ADMIN_MARK = "Set by your administrator.";

/** The hint under "Start Passbridge when I log in". */
export function loginHintText(view: Pick<SettingsView, "policy" | "startsAtLogin">): string {
  if (view.startsAtLogin === null) return "This system has no way to start Passbridge at login.";
  const what = "Passbridge then waits in the tray, ready for sites and your phone, with no window.";
  if (view.policy.startAtLogin !== null) return `${ADMIN_MARK} ${what}`;
  return what;
}

function policyRows(p: PolicyView): [string, string][] {
  return [
    ["Minimum PIN length", String(p.minPinLength)],
    ["Profiles without the OS keychain (PIN only)", p.allowPassphraseOnly ? "Allowed" : "Not allowed"],
    ["Longest auto-lock", p.maxAutoLockMinutes === 0 ? "No limit" : `${p.maxAutoLockMinutes} minutes`],
    ["Sites approved without a prompt", p.silentPresenceRps.length === 0 ? "None" : p.silentPresenceRps.join(", ")],
    ["Request dialogs per minute, at most", String(p.maxPromptsPerMinute)],
    ["Start at login", p.startAtLogin === null ? "Each person chooses" : p.startAtLogin ? "Always" : "Never"],
    ["Set by", p.source ?? "built-in defaults"],
  ];
}

export interface SettingsOptions {
  /** The settings as loaded or saved (other views follow some of them). */
  onSettings?: (view: SettingsView) => void;
}

export function mountSettings(panel: HTMLElement, options: SettingsOptions = {}): SettingsViewHandle {
  const policy = h("dl", { id: "policy", class: "policy" });
  const securityKey = h("p", { id: "security-key" });

  const autolock = h("input", { id: "set-autolock", type: "number", min: 0, max: 1440, step: 1, inputmode: "numeric" });
  const relay = h("input", { id: "set-relay", type: "url", autocomplete: "off", spellcheck: "false", placeholder: "wss://…" });
  const proxy = h("input", { id: "set-proxy", type: "url", autocomplete: "off", spellcheck: "false", placeholder: "http://host:port" });
  const air = h("input", { id: "set-air", type: "text", autocomplete: "off", spellcheck: "false", placeholder: "ble" });
  const timeout = h("input", { id: "set-timeout", type: "number", min: 10, max: 600, step: 1, inputmode: "numeric" });
  const loglevel = h(
    "select",
    { id: "set-loglevel" },
    ...(["error", "warn", "info", "debug"] as const).map((l) => h("option", { value: l }, l)),
  );
  const keyToggle = h("input", {
    id: "set-security-key",
    type: "checkbox",
    "aria-describedby": "set-security-key-hint",
  });
  const loginToggle = h("input", { id: "set-start-at-login", type: "checkbox", "aria-describedby": "set-start-at-login-hint" });
  const loginHint = h("p", { class: "hint", id: "set-start-at-login-hint" });
  const rememberToggle = h("input", { id: "set-remember-phones", type: "checkbox" });
  const save = h("button", { id: "settings-save", type: "submit", class: "primary" }, "Save settings");
  const status = h("p", { id: "settings-status", role: "status" });
  status.hidden = true;
  const autolockField = field("Auto-lock after (minutes)", autolock, AUTOLOCK_HINT);
  // What a person changes, first; what an administrator or a test sets up, under Advanced.
  const advanced = h(
    "details",
    { id: "settings-advanced", class: "advanced" },
    h("summary", {}, "Advanced"),
    h("p", { class: "hint" }, "For administrators and testing: leave these empty unless you were told what to enter."),
    field("Relay URL", relay, "Leave empty to use the service the phone names."),
    field("HTTP proxy", proxy, "Leave empty to use the system's HTTPS_PROXY setting."),
    field("Where to look for the phone", air, "Leave empty for Bluetooth (or ble:hci1 for another adapter)."),
    field("Phone timeout (seconds)", timeout, "How long to wait for the phone, 10 to 600 seconds."),
    field("Log detail", loglevel),
  );
  const form = h(
    "form",
    { id: "settings-form", class: "card form", novalidate: true, "aria-labelledby": "settings-form-title" },
    h("h3", { id: "settings-form-title" }, "Your settings"),
    autolockField,
    checkField("Start Passbridge when I log in", loginToggle),
    loginHint,
    checkField("Remember the phones I use, so next time they need no QR code", rememberToggle),
    checkField("Let browsers use the active profile as a USB security key (Linux)", keyToggle),
    h(
      "p",
      { class: "hint", id: "set-security-key-hint" },
      "Every request opens the request dialog. Needs a one-time `sudo passbridge setup-bridge`.",
    ),
    advanced,
    h("div", { class: "actions" }, save),
    status,
  );
  const autolockHint = autolockField.querySelector(".hint");

  panel.append(
    h("h2", {}, "Settings"),
    form,
    h(
      "section",
      { class: "card", "aria-labelledby": "policy-title" },
      h("h3", { id: "policy-title" }, "Policy"),
      h("p", { class: "muted" }, "Set by your administrator; read-only here."),
      policy,
      securityKey,
    ),
  );

  // The person's own choice, kept while the administrator's overrides it.
  let ownStartAtLogin = false;

  function fill(view: SettingsView): void {
    const s = view.settings;
    ownStartAtLogin = s.startAtLogin;
    rememberToggle.checked = s.rememberPhones;
    autolock.value = String(s.autoLockMinutes);
    relay.value = s.relay ?? "";
    proxy.value = s.proxy ?? "";
    air.value = s.air ?? "";
    timeout.value = String(s.phoneTimeoutSecs);
    loglevel.value = s.logLevel;
    keyToggle.checked = s.securityKey;
    const p = view.policy;
    loginToggle.checked = view.startsAtLogin ?? s.startAtLogin;
    loginToggle.disabled = view.startsAtLogin === null || p.startAtLogin !== null;
    loginToggle.closest(".field")?.classList.toggle("admin-set", p.startAtLogin !== null);
    loginHint.textContent = loginHintText(view);
    if (p.maxAutoLockMinutes > 0) autolock.max = String(p.maxAutoLockMinutes);
    // The built-in defaults cap it too, but only a policy file is the administrator's word.
    const byAdmin = p.maxAutoLockMinutes > 0 && p.source !== null;
    autolockField.classList.toggle("admin-set", byAdmin);
    if (autolockHint) {
      const cap = p.maxAutoLockMinutes > 0 ? ` At most ${p.maxAutoLockMinutes} minutes.` : "";
      autolockHint.textContent = AUTOLOCK_HINT + (byAdmin ? ` ${ADMIN_MARK}` : "") + cap;
    }
    // A value someone set under Advanced stays in sight.
    if (s.relay !== null || s.proxy !== null || s.air !== null) advanced.open = true;
    options.onSettings?.(view);
    replace(policy, ...policyRows(p).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    securityKey.textContent = `Security key: ${view.securityKey ?? "off"}`;
  }

  function setStatus(state: "ok" | "error", text: string): void {
    status.dataset["state"] = state;
    status.textContent = text;
    status.hidden = false;
  }

  function clearInvalid(): void {
    for (const el of [autolock, relay, proxy, air, timeout, loglevel]) el.removeAttribute("aria-invalid");
  }

  function fail(el: HTMLElement, message: string): void {
    const section = el.closest("details");
    if (section) section.open = true;
    el.setAttribute("aria-invalid", "true");
    setStatus("error", message);
    reportError({ code: "invalid-input", message });
    el.focus();
  }

  async function load(): Promise<void> {
    try {
      fill(await getSettings());
    } catch (e) {
      reportError(e);
    }
  }

  onSubmit(form, () => {
    clearInvalid();
    const minutes = Number(autolock.value);
    if (autolock.value.trim() === "" || !Number.isInteger(minutes) || minutes < 0)
      return fail(autolock, "Auto-lock: enter a whole number of minutes (0 or more).");
    const secs = Number(timeout.value);
    if (timeout.value.trim() === "" || !Number.isInteger(secs) || secs <= 0)
      return fail(timeout, "Phone timeout: enter a whole number of seconds.");
    const settings: UserSettings = {
      autoLockMinutes: minutes,
      relay: nullable(relay),
      proxy: nullable(proxy),
      air: nullable(air),
      phoneTimeoutSecs: secs,
      logLevel: loglevel.value as LogLevel,
      securityKey: keyToggle.checked,
      startAtLogin: loginToggle.disabled ? ownStartAtLogin : loginToggle.checked,
      rememberPhones: rememberToggle.checked,
    };
    save.disabled = true;
    void (async () => {
      try {
        fill(await saveSettings(settings));
        setStatus("ok", "Settings saved.");
      } catch (e) {
        const err = toAppError(e);
        const target = err.code === "invalid-input" ? fieldForMessage(err.message) : null;
        const el = target ? document.getElementById(target) : null;
        if (el) fail(el, errorText(err));
        else {
          reportError(err);
          setStatus("error", errorText(err));
        }
      } finally {
        save.disabled = false;
      }
    })();
  });

  return { load };
}
