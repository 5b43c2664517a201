// Typed wrapper over Tauri's invoke. Every call the window makes goes through here, and every
// failure comes out as an `AppError` ({ code, message }).
import { Channel, invoke, type InvokeArgs } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

import {
  PHONE_EVENT,
  PROFILES_EVENT,
  REQUEST_EVENT,
  type AppError,
  type AppInfo,
  type CheckView,
  type Commands,
  type ErrorCode,
  type LinkedPhoneView,
  type NetStepView,
  type PasskeyView,
  type PhoneEvent,
  type PhoneOutcome,
  type PhoneRequest,
  type ProfileView,
  type RequestAnswer,
  type RequestView,
  type SettingsView,
  type TestPhaseView,
  type TestResultView,
  type UserSettings,
} from "./bindings";

export type * from "./bindings";
export { PHONE_EVENT, PROFILES_EVENT, REQUEST_EVENT } from "./bindings";

// A Record over ErrorCode: the type-check fails when Rust adds a code and this list lacks it.
const ERROR_CODE_LIST: Record<ErrorCode, true> = {
  "not-found": true,
  "already-exists": true,
  "invalid-input": true,
  locked: true,
  "wrong-pin": true,
  "pin-wait": true,
  "pin-blocked": true,
  "no-active-profile": true,
  "no-pin": true,
  "keychain-unavailable": true,
  "forbidden-by-policy": true,
  "no-bluetooth-adapter": true,
  "bluetooth-off": true,
  "bluetooth-permission": true,
  "bluetooth-failed": true,
  "phone-not-nearby": true,
  "relay-unreachable": true,
  "relay-refused": true,
  "relay-tls": true,
  "proxy-failed": true,
  "phone-hung-up": true,
  "phone-refused": true,
  "phone-timeout": true,
  "phone-unlinked": true,
  "phone-answer-invalid": true,
  "phone-failed": true,
  cancelled: true,
  unavailable: true,
  busy: true,
  storage: true,
  damaged: true,
  internal: true,
};
const ERROR_CODES: ReadonlySet<string> = new Set(Object.keys(ERROR_CODE_LIST));

/** Whether `e` is an error as the Rust side sends it. */
export function isAppError(e: unknown): e is AppError {
  if (typeof e !== "object" || e === null) return false;
  const { code, message } = e as { code?: unknown; message?: unknown };
  return typeof code === "string" && ERROR_CODES.has(code) && typeof message === "string";
}

/** Keeps a real `AppError`; wraps anything else (a thrown Error, a string from Tauri) as `internal`. */
export function toAppError(e: unknown): AppError {
  if (isAppError(e)) return { code: e.code, message: e.message };
  let message: string;
  if (e instanceof Error) message = e.message;
  else if (typeof e === "string") message = e;
  else if (typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string")
    message = (e as { message: string }).message;
  else message = "something unexpected went wrong";
  return { code: "internal", message: message.trim() === "" ? "something unexpected went wrong" : message };
}

/** Calls a command with its typed arguments; rejects with an `AppError`. */
export async function call<K extends keyof Commands>(
  cmd: K,
  args: Commands[K]["args"],
): Promise<Commands[K]["result"]> {
  const payload = Object.keys(args).length === 0 ? undefined : (args as InvokeArgs);
  try {
    return await invoke<Commands[K]["result"]>(cmd, payload);
  } catch (e) {
    throw toAppError(e);
  }
}

export function appInfo(): Promise<AppInfo> {
  return call("app_info", {});
}

export function listProfiles(): Promise<ProfileView[]> {
  return call("profiles_list", {});
}

export function createProfile(name: string, pin: string | null): Promise<ProfileView[]> {
  return call("profile_create", { profile: { name, pin } });
}

export function switchProfile(name: string): Promise<ProfileView[]> {
  return call("profile_switch", { name });
}

export function unlockProfile(name: string, pin: string): Promise<ProfileView[]> {
  return call("profile_unlock", { name, pin });
}

export function lockProfile(name: string): Promise<ProfileView[]> {
  return call("profile_lock", { name });
}

export function listPasskeys(): Promise<PasskeyView[]> {
  return call("passkeys_list", {});
}

export function renamePasskey(id: string, displayName: string): Promise<PasskeyView[]> {
  return call("passkey_rename", { id, displayName });
}

export function deletePasskey(id: string): Promise<PasskeyView[]> {
  return call("passkey_delete", { id });
}

export function listPhones(): Promise<LinkedPhoneView[]> {
  return call("phones_list", {});
}

export function removePhone(name: string): Promise<LinkedPhoneView[]> {
  return call("phone_remove", { name });
}

/** `doctor`'s machine checks, with the command line's sentences. */
export function runDiagnostics(): Promise<CheckView[]> {
  return call("diagnostics_run", {});
}

/** `doctor`'s network checks; `onStep` hears each step as it starts; `null` when cancelled. */
export function runNetworkChecks(onlyRelay: boolean, onStep: (step: NetStepView) => void): Promise<CheckView[] | null> {
  const channel = new Channel<NetStepView>();
  channel.onmessage = onStep;
  return call("diagnostics_network", { onlyRelay, onStep: channel });
}

export function cancelNetworkChecks(): Promise<null> {
  return call("diagnostics_cancel", {});
}

/** The cross-device test; `onPhase` hears each phase as it is reached. Stopped by `cancelNetworkChecks`. */
export function runCrossDeviceTest(virtualPhone: boolean, onPhase: (phase: TestPhaseView) => void): Promise<TestResultView> {
  const channel = new Channel<TestPhaseView>();
  channel.onmessage = onPhase;
  return call("diagnostics_test", { virtualPhone, onPhase: channel });
}

/** Writes the report of the page's last checks and test; the path of its `report.html`. */
export function exportReport(): Promise<string> {
  return call("diagnostics_export", {});
}

/** Opens a report `exportReport` wrote in the system's browser. */
export function openReport(path: string): Promise<null> {
  return call("diagnostics_open_report", { path });
}

export function getSettings(): Promise<SettingsView> {
  return call("settings_get", {});
}

export function saveSettings(settings: UserSettings): Promise<SettingsView> {
  return call("settings_save", { settings });
}

/** Runs a phone ceremony; `onEvent` sees every step, in order, as it happens. */
export function runPhone(request: PhoneRequest, onEvent: (event: PhoneEvent) => void): Promise<PhoneOutcome> {
  const channel = new Channel<PhoneEvent>();
  channel.onmessage = onEvent;
  return call("phone_run", { request, onEvent: channel });
}

export function cancelPhone(flow: number): Promise<boolean> {
  return call("phone_cancel", { flow });
}

export function currentRequest(): Promise<RequestView | null> {
  return call("request_current", {});
}

export function answerRequest(answer: RequestAnswer): Promise<null> {
  return call("request_answer", { answer });
}

/** Listens for the request dialog event: a request to show, or `null` to close the dialog. */
export function onRequest(handler: (request: RequestView | null) => void): Promise<UnlistenFn> {
  return listen<RequestView | null>(REQUEST_EVENT, (event) => handler(event.payload));
}

/** Listens for the steps (each a `PhoneEvent`) of a site's request the person sent to their phone. */
export function onPhoneProgress(handler: (event: PhoneEvent) => void): Promise<UnlistenFn> {
  return listen<PhoneEvent>(PHONE_EVENT, (event) => handler(event.payload));
}

/** Listens for profile changes made outside the window (the tray menu). */
export function onProfilesChanged(handler: () => void): Promise<UnlistenFn> {
  return listen<null>(PROFILES_EVENT, () => handler());
}
