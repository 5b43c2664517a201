// Wiring: builds the window from the views and connects them to the app.
import { showAbout } from "./about";
import { h } from "./dom";
import { currentRequest, onPhoneProgress, onProfilesChanged, onRequest } from "./ipc/client";
import { createStatus, reportError } from "./status";
import { Store } from "./store";
import { mountDiagnostics } from "./views/diagnostics";
import { mountPasskeys } from "./views/passkeys";
import { mountPhone } from "./views/phone";
import { mountProfiles } from "./views/profiles";
import { mountRequest } from "./views/request";
import { mountSettings } from "./views/settings";
import { mountTabs } from "./views/tabs";

/** How often the profile list is asked for again (auto-lock can happen while idle). */
export const REFRESH_MS = 15_000;

export async function startApp(root: HTMLElement): Promise<void> {
  const store = new Store();
  const profiles = mountProfiles(store);
  const status = createStatus();

  const panelPasskeys = h("section", { id: "panel-passkeys", class: "panel" });
  const panelPhone = h("section", { id: "panel-phone", class: "panel" });
  const panelSettings = h("section", { id: "panel-settings", class: "panel" });
  const panelDiagnostics = h("section", { id: "panel-diagnostics", class: "panel" });
  mountDiagnostics(panelDiagnostics);

  const passkeys = mountPasskeys(panelPasskeys, store, {
    onChanged: () => void profiles.refresh(),
    onNewProfile: () => profiles.openNewProfile(),
  });
  const phone = mountPhone(panelPhone, store, {
    onFinished: () => {
      void passkeys.reload();
      void profiles.refresh();
    },
  });
  const settings = mountSettings(panelSettings, {
    onSettings: (view) => phone.setRememberDefault(view.settings.rememberPhones),
  });
  // A site's request was answered (here or on a phone): passkeys and counts may have changed.
  const reloadAfterRequest = (): void => {
    void passkeys.reload();
    void profiles.refresh();
  };
  const request = mountRequest({
    onProfiles: (list) => store.setProfiles(list),
    onClosed: reloadAfterRequest,
    onPhoneFinished: reloadAfterRequest,
  });

  const tabs = mountTabs(
    [
      { id: "tab-passkeys", label: "Passkeys", panel: panelPasskeys },
      { id: "tab-phone", label: "Phone", panel: panelPhone },
      { id: "tab-settings", label: "Settings", panel: panelSettings },
      { id: "tab-diagnostics", label: "Diagnostics", panel: panelDiagnostics },
    ],
    (id) => {
      if (id === "tab-settings") void settings.load();
    },
  );

  const about = h("p", { id: "about", "data-state": "loading" }, "Asking the app for its version…");
  root.replaceChildren(
    profiles.header,
    h("main", { class: "content" }, status, tabs.list, panelPasskeys, panelPhone, panelSettings, panelDiagnostics),
    h("footer", { class: "app-footer" }, about),
    profiles.newProfileDialog,
    ...passkeys.dialogs,
    ...phone.dialogs,
    request.dialog,
  );

  void showAbout(about);
  void settings.load();
  await profiles.refresh();
  window.setInterval(() => void profiles.refresh(), REFRESH_MS);
  window.addEventListener("focus", () => void profiles.refresh());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") void profiles.refresh();
  });

  try {
    await onRequest(request.show);
    await onPhoneProgress(request.phoneEvent);
    // Locked or switched from the tray menu: show it at once, not at the next refresh.
    await onProfilesChanged(() => void profiles.refresh());
    request.show(await currentRequest());
  } catch (e) {
    reportError(e);
  }
}

const root = document.getElementById("app");
if (root) void startApp(root);
