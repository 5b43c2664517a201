// The Passkeys tab: the active profile's passkeys, rename and delete. A locked profile shows
// no list, only a line on when it comes back.
import { accountLabel, createdLabel, errorText, lastUsedLabel, locationLabel, nowSecs, siteLabel } from "../format";
import { deletePasskey, listPasskeys, renamePasskey } from "../ipc/client";
import type { PasskeyView } from "../ipc/bindings";
import { button, closeDialog, dialog, field, h, onSubmit, openDialog, replace, show } from "../dom";
import { clearStatus, reportError } from "../status";
import type { Store } from "../store";

export interface PasskeysView {
  /** Reloads the list for the active profile. */
  reload(): Promise<void>;
  dialogs: HTMLDialogElement[];
}

export interface PasskeysOptions {
  /** Called after a change (the profile list shows a passkey count). */
  onChanged?: () => void;
  /** The clock, for tests. */
  now?: () => number;
  /** Opens the "New profile" dialog (from the first start's welcome). */
  onNewProfile?: () => void;
}

/** The first start, in three sentences: what Passbridge is for, and what a profile is. */
export const WELCOME =
  "Passbridge signs you in to websites with passkeys instead of passwords, kept on this computer or on your phone. " +
  "Browsers reach it like a security key, and it asks you here before any site gets a passkey. " +
  "Your passkeys live in a profile of your own, which a PIN locks when you step away from a shared computer.";

export function mountPasskeys(panel: HTMLElement, store: Store, options: PasskeysOptions = {}): PasskeysView {
  const now = options.now ?? nowSecs;
  const list = h("ul", { id: "passkeys", class: "cards" });
  const lockedNotice = h("div", { id: "locked-notice", class: "card notice" });
  const noProfile = h("div", { id: "no-profile-notice", class: "card notice" });
  const empty = h(
    "div",
    { id: "passkeys-empty", class: "card notice" },
    h("p", {}, h("strong", {}, "No passkeys yet.")),
    h(
      "p",
      {},
      "To add one, keep Passbridge running and create a passkey on a website: when the site asks, " +
        "Passbridge shows a request and saves the passkey in this profile. " +
        "To keep a passkey on your phone instead, use the Phone tab and choose “Create a passkey on my phone”.",
    ),
  );
  const heading = h("h2", { id: "passkeys-title" }, "Passkeys");
  panel.append(heading, lockedNotice, noProfile, empty);
  lockedNotice.hidden = true;
  noProfile.hidden = true;
  empty.hidden = true;

  let passkeys: PasskeyView[] = [];

  function setMode(mode: "list" | "locked" | "no-profile" | "loading"): void {
    const active = store.active();
    show(lockedNotice, mode === "locked");
    show(noProfile, mode === "no-profile");
    if (mode === "locked") {
      // That the profile is locked, and the PIN field, are said once, at the top of the window;
      // here only what it means for this tab.
      const when = active?.state === "keychain-unavailable" ? "once the OS keychain is available" : "once it is unlocked";
      replace(lockedNotice, h("p", {}, `This profile's passkeys appear here ${when}.`));
    }
    if (mode === "no-profile") {
      const create = button("Create my profile", { id: "welcome-create", class: "primary" });
      create.addEventListener("click", () => options.onNewProfile?.());
      replace(
        noProfile,
        h("h3", {}, "Welcome to Passbridge"),
        h("p", {}, WELCOME),
        h("p", {}, create),
      );
    }
    if (mode !== "list") {
      // No list at all while locked (not just hidden).
      list.remove();
      empty.hidden = true;
      list.replaceChildren();
    }
  }

  function render(): void {
    setMode("list");
    const t = now();
    replace(list, ...passkeys.map((p) => item(p, t)));
    if (!list.isConnected) panel.append(list);
    show(list, passkeys.length > 0);
    show(empty, passkeys.length === 0);
  }

  async function reload(): Promise<void> {
    const active = store.active();
    if (!active) return setMode("no-profile");
    if (active.state !== "unlocked") return setMode("locked");
    try {
      passkeys = await listPasskeys();
      render();
    } catch (e) {
      const err = reportError(e);
      if (err.code === "locked") setMode("locked");
      else if (err.code === "no-active-profile") setMode("no-profile");
    }
  }

  // Rename dialog.
  let renaming: PasskeyView | null = null;
  const rn = dialog("rename-dialog", "Rename passkey", () => closeDialog(rn.dialog));
  const rnInput = h("input", { id: "rename-input", type: "text", autocomplete: "off", required: true });
  const rnFor = h("p", { id: "rename-for" });
  const rnError = h("p", { id: "rename-error", class: "field-error" });
  rnError.hidden = true;
  const rnSave = h("button", { id: "rename-save", type: "submit", class: "primary" }, "Save");
  const rnCancel = button("Cancel", { id: "rename-cancel" });
  rn.body.append(rnFor, field("Name shown for this account", rnInput), rnError, h("div", { class: "actions" }, rnSave, rnCancel));
  rnCancel.addEventListener("click", () => closeDialog(rn.dialog));
  onSubmit(rn.body, () => {
    const p = renaming;
    if (!p) return;
    const name = rnInput.value.trim();
    if (name === "") {
      rnError.textContent = "Enter a name.";
      rnError.hidden = false;
      rnInput.focus();
      return;
    }
    rnSave.disabled = true;
    void (async () => {
      try {
        passkeys = await renamePasskey(p.id, name);
        closeDialog(rn.dialog);
        clearStatus();
        render();
        options.onChanged?.();
      } catch (e) {
        const err = reportError(e);
        rnError.textContent = errorText(err);
        rnError.hidden = false;
        if (err.code === "locked" || err.code === "not-found") {
          closeDialog(rn.dialog);
          void reload();
        }
      } finally {
        rnSave.disabled = false;
      }
    })();
  });

  // Delete confirmation.
  let deleting: PasskeyView | null = null;
  const del = dialog("confirm-delete", "Delete passkey?", () => closeDialog(del.dialog));
  const delText = h("p", { id: "confirm-delete-text" });
  const delYes = h("button", { id: "confirm-delete-yes", type: "submit", class: "danger" }, "Delete");
  const delNo = button("Keep it", { id: "confirm-delete-no" });
  del.body.append(delText, h("div", { class: "actions" }, delYes, delNo));
  delNo.addEventListener("click", () => closeDialog(del.dialog));
  onSubmit(del.body, () => {
    const p = deleting;
    if (!p) return;
    delYes.disabled = true;
    void (async () => {
      try {
        passkeys = await deletePasskey(p.id);
        clearStatus();
        render();
        options.onChanged?.();
      } catch (e) {
        reportError(e);
        void reload();
      } finally {
        delYes.disabled = false;
        closeDialog(del.dialog);
      }
    })();
  });

  function item(p: PasskeyView, t: number): HTMLLIElement {
    const site = siteLabel(p.rpName, p.rpId);
    const account = accountLabel(p.displayName, p.userName);
    const rename = button("Rename", { class: "rename", "aria-label": `Rename passkey: ${account} on ${site}` });
    const remove = button(p.location === "phone" ? "Forget" : "Delete", {
      class: "delete danger",
      "aria-label": `${p.location === "phone" ? "Forget" : "Delete"} passkey: ${account} on ${site}`,
    });
    rename.addEventListener("click", () => {
      renaming = p;
      rnFor.textContent = `${site} — ${account}`;
      rnInput.value = p.displayName ?? p.userName ?? "";
      rnError.hidden = true;
      openDialog(rn.dialog, rnInput);
      rnInput.select();
    });
    remove.addEventListener("click", () => {
      deleting = p;
      if (p.location === "phone") {
        del.heading.textContent = "Forget passkey?";
        delText.textContent =
          `Forget the passkey for ${account} on ${site}? It is only forgotten on this computer: ` +
          `the phone keeps it, and you can still sign in with the phone.`;
        delYes.textContent = "Forget";
      } else {
        del.heading.textContent = "Delete passkey?";
        delText.textContent =
          `Delete the passkey for ${account} on ${site}? You will no longer be able to sign in to ${p.rpId} ` +
          `with it. This cannot be undone.`;
        delYes.textContent = "Delete";
      }
      openDialog(del.dialog, delNo);
    });
    return h(
      "li",
      { class: "passkey card", "data-id": p.id, "data-location": p.location },
      h("div", { class: "passkey-main" }, h("span", { class: "site" }, site), h("span", { class: "account" }, account)),
      h(
        "div",
        { class: "meta" },
        h("span", { class: "created" }, createdLabel(p.createdAt)),
        h("span", { class: "last-used" }, lastUsedLabel(p.lastUsed, t)),
        h("span", { class: "location", "data-location": p.location }, locationLabel(p)),
      ),
      h("div", { class: "actions" }, rename, remove),
    );
  }

  store.onActiveChange(() => void reload());

  return { reload, dialogs: [rn.dialog, del.dialog] };
}
