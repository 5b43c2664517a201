// The header: the active profile (always visible), its lock state and auto-lock time, the
// profile switcher, "New profile", "Lock", and the unlock form for a locked profile.
import { autoLockLabel, errorText, lockStateLabel, protectionLabel } from "../format";
import { createProfile, listProfiles, lockProfile, switchProfile, toAppError, unlockProfile } from "../ipc/client";
import type { ProfileView } from "../ipc/bindings";
import { button, closeDialog, dialog, field, h, onSubmit, openDialog, replace, show } from "../dom";
import { clearStatus, reportError } from "../status";
import type { Store } from "../store";

export interface ProfilesView {
  header: HTMLElement;
  newProfileDialog: HTMLDialogElement;
  /** Asks for the profile list again (auto-lock may have happened). */
  refresh(): Promise<void>;
  /** Opens the "New profile" dialog. */
  openNewProfile(): void;
}

export function mountProfiles(store: Store): ProfilesView {
  const activeName = h("strong", { id: "active-profile" }, "No profile");
  const activeState = h("span", { id: "active-state", class: "badge" });
  const autolock = h("span", { id: "autolock", class: "muted" });
  autolock.hidden = true;

  const select = h("select", { id: "profile-select" });
  const newBtn = button("New profile…", { id: "profile-new" });
  const lockBtn = button("Lock", { id: "profile-lock" });

  const pin = h("input", { id: "unlock-pin", type: "password", autocomplete: "current-password", required: true });
  const unlockSubmit = h("button", { id: "unlock-submit", type: "submit", class: "primary" }, "Unlock");
  const unlockText = h("p", { id: "unlock-text" });
  const unlockError = h("p", { id: "unlock-error", class: "field-error" });
  unlockError.hidden = true;
  const pinField = field("PIN", pin);
  const unlockForm = h(
    "form",
    { id: "unlock-form", class: "unlock card", "aria-labelledby": "unlock-text", novalidate: true },
    unlockText,
    h("div", { class: "row" }, pinField, unlockSubmit),
    unlockError,
  );
  unlockForm.hidden = true;
  const keychainNotice = h("p", { id: "keychain-notice", class: "card notice" });
  keychainNotice.hidden = true;

  const header = h(
    "header",
    { class: "app-header" },
    h(
      "div",
      { class: "header-row" },
      h("p", { class: "app-name" }, "Passbridge"),
      h(
        "div",
        { class: "active-profile", "aria-live": "polite" },
        h("span", { class: "muted" }, "Active profile:"),
        activeName,
        activeState,
        autolock,
      ),
      h("div", { class: "profile-controls" }, field("Profile", select), newBtn, lockBtn),
    ),
    unlockForm,
    keychainNotice,
  );

  // New profile dialog.
  const np = dialog("new-profile", "New profile", () => closeDialog(np.dialog));
  const npName = h("input", { id: "new-profile-name", type: "text", autocomplete: "off", required: true });
  const npPin = h("input", { id: "new-profile-pin", type: "password", autocomplete: "new-password" });
  const npError = h("p", { id: "new-profile-error", class: "field-error" });
  npError.hidden = true;
  const npCreate = h("button", { id: "new-profile-create", type: "submit", class: "primary" }, "Create profile");
  const npCancel = button("Cancel", { id: "new-profile-cancel" });
  np.body.append(
    field("Name", npName, "For example Work or Personal."),
    field(
      "PIN (optional)",
      npPin,
      "With a PIN, the profile can be locked and sites that ask to verify it is you get the PIN prompt. " +
        "Without a PIN the OS keychain alone protects it and it cannot be locked separately.",
    ),
    npError,
    h("div", { class: "actions" }, npCreate, npCancel),
  );
  npCancel.addEventListener("click", () => closeDialog(np.dialog));

  let selectKey = "";
  function render(): void {
    const active = store.active();
    setText(activeName, active ? active.name : "No profile");
    // A locked profile's state is said by the unlock form below, once.
    activeState.hidden = active === null || active.state === "locked";
    if (active) {
      setText(activeState, lockStateLabel(active.state));
      activeState.dataset["state"] = active.state;
      activeState.title = protectionLabel(active.protection);
    }
    const lockText = active && active.state === "unlocked" ? autoLockLabel(active.autoLockAt) : null;
    setText(autolock, lockText ?? "");
    show(autolock, lockText !== null);

    // Only rebuild the switcher when it changed (the list is refreshed every 15 s).
    const key = JSON.stringify(store.profiles.map((p) => [p.name, p.state, p.active]));
    if (key !== selectKey) {
      selectKey = key;
      renderSelect(select, store.profiles);
    }
    show(lockBtn, active !== null && active.state === "unlocked" && active.protection !== "keychain");
    if (active) lockBtn.setAttribute("aria-label", `Lock ${active.name}`);

    const locked = active !== null && active.state === "locked";
    if (locked && unlockForm.hidden) {
      pin.value = "";
      unlockError.hidden = true;
    }
    show(unlockForm, locked);
    if (active && locked) {
      unlockText.textContent = `“${active.name}” is locked. Enter its PIN to unlock it.`;
      pinField.querySelector("label")!.textContent = `PIN for ${active.name}`;
    }
    show(keychainNotice, active !== null && active.state === "keychain-unavailable");
    if (active && active.state === "keychain-unavailable") {
      keychainNotice.textContent = `“${active.name}” cannot be opened because the OS keychain is not available. Unlock your keychain (or log in again), then come back to this window.`;
    }
  }
  store.subscribe(render);
  render();

  async function refresh(): Promise<void> {
    try {
      store.setProfiles(await listProfiles());
    } catch (e) {
      reportError(e);
    }
  }

  select.addEventListener("change", () => {
    const name = select.value;
    if (!name || store.active()?.name === name) return;
    void (async () => {
      try {
        store.setProfiles(await switchProfile(name));
        clearStatus();
      } catch (e) {
        reportError(e);
        renderSelect(select, store.profiles);
      }
    })();
  });

  lockBtn.addEventListener("click", () => {
    const active = store.active();
    if (!active) return;
    void (async () => {
      try {
        // The unlock form that appears says it is locked.
        store.setProfiles(await lockProfile(active.name));
        pin.focus();
      } catch (e) {
        reportError(e);
      }
    })();
  });

  onSubmit(unlockForm, () => {
    const active = store.active();
    if (!active) return;
    if (pin.value === "") {
      unlockError.textContent = "Enter the PIN.";
      unlockError.hidden = false;
      pin.focus();
      return;
    }
    unlockSubmit.disabled = true;
    void (async () => {
      try {
        const profiles = await unlockProfile(active.name, pin.value);
        pin.value = "";
        unlockError.hidden = true;
        clearStatus();
        store.setProfiles(profiles);
      } catch (e) {
        // Said once, where the person typed the PIN: what went wrong and what to do.
        const err = toAppError(e);
        unlockError.textContent = errorText(err);
        unlockError.hidden = false;
        pin.value = "";
        pin.focus();
      } finally {
        unlockSubmit.disabled = false;
      }
    })();
  });

  function openNewProfile(): void {
    npName.value = "";
    npPin.value = "";
    npError.hidden = true;
    openDialog(np.dialog, npName);
  }
  newBtn.addEventListener("click", openNewProfile);

  onSubmit(np.body, () => {
    const name = npName.value.trim();
    if (name === "") {
      npError.textContent = "Enter a name for the profile.";
      npError.hidden = false;
      npName.focus();
      return;
    }
    npCreate.disabled = true;
    void (async () => {
      try {
        store.setProfiles(await createProfile(name, npPin.value === "" ? null : npPin.value));
        closeDialog(np.dialog);
        clearStatus();
      } catch (e) {
        const err = reportError(e);
        npError.textContent = errorText(err);
        npError.hidden = false;
        (err.code === "invalid-input" && npPin.value !== "" && /pin/i.test(err.message) ? npPin : npName).focus();
      } finally {
        npCreate.disabled = false;
      }
    })();
  });

  return { header, newProfileDialog: np.dialog, refresh, openNewProfile };
}

/** Sets text only when it changed (no needless announcements from the live region). */
function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

function renderSelect(select: HTMLSelectElement, profiles: ProfileView[]): void {
  const options = profiles.map((p) => {
    // The active profile's state is shown beside the list; the others' in it.
    const state = p.active ? "unlocked" : p.state;
    const suffix = state === "locked" ? " (locked)" : state === "keychain-unavailable" ? " (keychain unavailable)" : "";
    const o = h("option", { value: p.name }, p.name + suffix);
    o.selected = p.active;
    return o;
  });
  if (profiles.length === 0) options.push(h("option", { value: "" }, "No profiles yet"));
  else if (!profiles.some((p) => p.active)) {
    const none = h("option", { value: "" }, "Choose a profile");
    none.selected = true;
    options.unshift(none);
  }
  replace(select, ...options);
  select.disabled = profiles.length === 0;
}
