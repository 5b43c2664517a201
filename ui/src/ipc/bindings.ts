// Generated from the Rust types by `./dev bindings` (src-tauri/src/desktop/bindings.rs).
// Do not edit: a test fails when this file and the Rust code disagree.

import type { Channel } from "@tauri-apps/api/core";

/**
 * What this binary is and what it was built with.
 */
export type AppInfo = { 
/**
 * Product name shown to people.
 */
name: string, 
/**
 * Semantic version from Cargo.
 */
version: string, 
/**
 * Whether this binary has the Tauri window (`desktop` feature).
 */
desktop: boolean, 
/**
 * Target operating system (`linux`, `macos`, `windows`).
 */
os: string, };

/**
 * What kind of failure, for the UI to react to (focus the PIN field, offer unlock, …).
 */
export type ErrorCode = "not-found" | "already-exists" | "invalid-input" | "locked" | "wrong-pin" | "pin-wait" | "pin-blocked" | "no-active-profile" | "no-pin" | "keychain-unavailable" | "forbidden-by-policy" | "no-bluetooth-adapter" | "bluetooth-off" | "bluetooth-permission" | "bluetooth-failed" | "phone-not-nearby" | "relay-unreachable" | "relay-refused" | "relay-tls" | "proxy-failed" | "phone-hung-up" | "phone-refused" | "phone-timeout" | "phone-unlinked" | "phone-answer-invalid" | "phone-failed" | "cancelled" | "unavailable" | "busy" | "storage" | "damaged" | "internal";

/**
 * An error as the window receives it.
 */
export type AppError = { 
/**
 * The kind.
 */
code: ErrorCode, 
/**
 * A sentence for the person.
 */
message: string, };

/**
 * Whether a profile can be used right now.
 */
export type LockState = "unlocked" | "locked" | "keychain-unavailable";

/**
 * How a profile's vault key is protected.
 */
export type Protection = "keychain" | "keychain-pin" | "passphrase-only";

/**
 * A profile as the profile switcher shows it. A locked profile shows its name and nothing
 * else: no passkey count, no accounts.
 */
export type ProfileView = { 
/**
 * Display name.
 */
name: string, 
/**
 * Whether it can be used now.
 */
state: LockState, 
/**
 * How its vault key is protected.
 */
protection: Protection, 
/**
 * Passkeys on this computer, only when unlocked.
 */
passkeyCount: number | null, 
/**
 * The profile requests are answered from.
 */
active: boolean, 
/**
 * When an unlocked PIN profile locks itself if unused (Unix seconds), if it does.
 */
autoLockAt: number | null, };

/**
 * A new profile.
 */
export type NewProfile = { 
/**
 * Its name.
 */
name: string, 
/**
 * A PIN to lock it with; without one the OS keychain alone protects it.
 */
pin: string | null, };

/**
 * Where a passkey lives.
 */
export type PasskeyLocation = "this-computer" | "phone";

/**
 * One passkey in the active profile's list. No key material.
 */
export type PasskeyView = { 
/**
 * Credential ID, hex: the handle rename and delete use.
 */
id: string, 
/**
 * The site (RP ID).
 */
rpId: string, 
/**
 * The site's name, when it gave one.
 */
rpName: string | null, 
/**
 * Account name.
 */
userName: string | null, 
/**
 * Account display name.
 */
displayName: string | null, 
/**
 * Created, Unix seconds.
 */
createdAt: number, 
/**
 * Last used, Unix seconds.
 */
lastUsed: number | null, 
/**
 * Where the private key is.
 */
location: PasskeyLocation, 
/**
 * The phone's name, for passkeys on a phone.
 */
phone: string | null, };

/**
 * A phone linked to the active profile (it can be reached without a QR code).
 */
export type LinkedPhoneView = { 
/**
 * The name the phone gave itself.
 */
name: string, 
/**
 * Linked at, Unix seconds.
 */
linkedAt: number, };

/**
 * Log detail the app writes.
 */
export type LogLevel = "error" | "warn" | "info" | "debug";

/**
 * The admin policy in force, read-only in the window.
 */
export type PolicyView = { 
/**
 * The file it came from, or `None` for the built-in defaults.
 */
source: string | null, 
/**
 * Minimum PIN length.
 */
minPinLength: number, 
/**
 * Whether profiles without the OS keychain are allowed.
 */
allowPassphraseOnly: boolean, 
/**
 * The longest auto-lock an admin allows, in minutes (0: auto-lock off).
 */
maxAutoLockMinutes: number, 
/**
 * Sites that may get presence without a prompt.
 */
silentPresenceRps: Array<string>, 
/**
 * How many request dialogs a minute may appear.
 */
maxPromptsPerMinute: number, 
/**
 * Start at login forced on or off by the administrator (`None`: the user chooses).
 */
startAtLogin: boolean | null, };

/**
 * The user's own settings, as shown and as saved.
 */
export type UserSettings = { 
/**
 * Minutes without use before an unlocked PIN profile locks (capped by policy).
 */
autoLockMinutes: number, 
/**
 * Tunnel relay URL; `None`: the service the phone names.
 */
relay: string | null, 
/**
 * HTTP proxy for the relay connection; `None`: the environment's `HTTPS_PROXY`.
 */
proxy: string | null, 
/**
 * Where to look for the phone: `ble`, `ble:hciN`, or `udp://127.0.0.1:PORT` (tests).
 */
air: string | null, 
/**
 * Seconds to wait for the phone.
 */
phoneTimeoutSecs: number, 
/**
 * Log detail.
 */
logLevel: LogLevel, 
/**
 * Let browsers and other FIDO clients use the active profile as a USB security key
 * (Linux, through `/dev/uhid`; `passbridge setup-bridge` once first).
 */
securityKey: boolean, 
/**
 * Start Passbridge (tray icon and security key, no window) when the user logs in.
 */
startAtLogin: boolean, 
/**
 * Whether "Remember this phone" starts ticked: a phone that offers linking is then
 * contacted without a QR code next time.
 */
rememberPhones: boolean, };

/**
 * The Settings screen: the policy and the user's settings.
 */
export type SettingsView = { 
/**
 * Admin policy (read-only).
 */
policy: PolicyView, 
/**
 * The user's settings.
 */
settings: UserSettings, 
/**
 * Where the virtual security key listens, if it runs ("udp://…" or "/dev/uhid").
 */
securityKey: string | null, 
/**
 * Whether Passbridge starts at login now (the setting, or the policy where it forces
 * one), and `None` where this system has no way to start it.
 */
startsAtLogin: boolean | null, };

/**
 * What a phone ceremony does.
 */
export type PhoneCeremony = "register" | "sign-in";

/**
 * Starts a phone ceremony.
 */
export type PhoneRequest = { 
/**
 * Register or sign in.
 */
ceremony: PhoneCeremony, 
/**
 * The site (RP ID).
 */
rpId: string, 
/**
 * The account, for a registration.
 */
userName: string | null, 
/**
 * A linked phone to contact instead of showing a QR code.
 */
phone: string | null, 
/**
 * Remember a phone that offers linking.
 */
rememberPhone: boolean, };

/**
 * Where a phone ceremony stands. Sent over a Tauri channel as it happens.
 */
export type PhoneStep = "qr-shown" | "contacting-phone" | "phone-nearby" | "relay-connected" | "secure-channel" | "waiting-for-approval" | "done" | "failed" | "cancelled";

/**
 * How a check came out.
 */
export type Status = "pass" | "warn" | "fail";

/**
 * What a check is about.
 */
export type Area = "bluetooth" | "policy" | "keychain" | "profiles" | "security-key" | "network" | "clock";

/**
 * One check as the page shows it.
 */
export type CheckView = { 
/**
 * What it is about.
 */
area: Area, 
/**
 * "policy", "keychain", "profiles", "security key".
 */
areaLabel: string, 
/**
 * How it came out.
 */
status: Status, 
/**
 * What was measured and what to do.
 */
message: string, };

/**
 * A step of reaching a tunnel service.
 */
export type NetStep = "dns" | "tcp" | "proxy" | "tls" | "upgrade";

/**
 * A network step starting, as the page shows it while the checks run.
 */
export type NetStepView = { 
/**
 * The host being checked.
 */
host: string, 
/**
 * The step.
 */
step: NetStep, 
/**
 * The step in words ("name lookup", "TLS" …).
 */
label: string, };

/**
 * The two ceremonies of the test.
 */
export type CeremonyKind = "registration" | "sign-in";

/**
 * A point a ceremony with a phone passes, in order.
 */
export type TestPhase = "qr-shown" | "advert-heard" | "advert-decrypted" | "tunnel-connected" | "handshake-done" | "post-handshake" | "request-sent" | "phone-answered" | "verified";

/**
 * A phase of the cross-device test reached, as the page shows it while the test runs.
 */
export type TestPhaseView = { 
/**
 * The ceremony.
 */
ceremony: CeremonyKind, 
/**
 * "registration", "sign-in".
 */
ceremonyLabel: string, 
/**
 * The phase.
 */
phase: TestPhase, 
/**
 * The phase in words.
 */
label: string, 
/**
 * Milliseconds since the ceremony began.
 */
atMs: number, 
/**
 * With a real phone's `qr-shown`: the QR code to scan, as SVG.
 */
qrSvg: string | null, };

/**
 * The cross-device test's outcome, as the page shows it.
 */
export type TestResultView = { 
/**
 * Whether both ceremonies verified.
 */
passed: boolean, 
/**
 * The verdict in a sentence (where it stopped, and why).
 */
summary: string, 
/**
 * What to do, when it failed.
 */
fix: string | null, 
/**
 * Facts to show: name and value (tunnel, phone, attestation, Chromium's names).
 */
facts: Array<[string, string]>, };

/**
 * One step of a phone ceremony.
 */
export type PhoneEvent = { 
/**
 * The ceremony this belongs to (what `phone_cancel` takes).
 */
flow: number, 
/**
 * The step reached.
 */
step: PhoneStep, 
/**
 * Milliseconds since the ceremony started.
 */
elapsedMs: number, 
/**
 * With `QrShown`: the `FIDO:/` text.
 */
qrUrl: string | null, 
/**
 * With `QrShown`: the QR code as SVG (module-exact, scales crisply).
 */
qrSvg: string | null, 
/**
 * With `Done`/`Failed`/`Cancelled`: a sentence for the person.
 */
message: string | null, };

/**
 * A finished phone ceremony.
 */
export type PhoneOutcome = { 
/**
 * What was done.
 */
ceremony: PhoneCeremony, 
/**
 * The site.
 */
rpId: string, 
/**
 * The passkey used or created, hex.
 */
credentialId: string, 
/**
 * Whether the signature (sign-in) or attestation (registration) was verified.
 */
verified: boolean, 
/**
 * A phone remembered by this ceremony.
 */
linkedPhone: string | null, 
/**
 * Sign-in only: the passkey's signature counter did not move forward, so the passkey
 * may have been copied (or an old answer replayed). Kept with the passkey for the audit.
 */
counterRegression: CounterRegression | null, };

/**
 * A signature counter that did not go up (WebAuthn §7.2 step 21).
 */
export type CounterRegression = { 
/**
 * The counter this computer had seen.
 */
stored: number, 
/**
 * The counter the phone sent now.
 */
reported: number, 
/**
 * When, Unix seconds.
 */
at: number, };

/**
 * What a site asks the active profile for.
 */
export type RequestKind = "register" | "sign-in" | "confirm";

/**
 * An account a sign-in may use.
 */
export type AccountChoice = { 
/**
 * Credential ID, hex.
 */
id: string, 
/**
 * Account name.
 */
userName: string | null, 
/**
 * Display name.
 */
displayName: string | null, };

/**
 * A pending request from a site, for the request dialog.
 */
export type RequestView = { 
/**
 * Handle for `request_answer`.
 */
id: number, 
/**
 * What is asked.
 */
kind: RequestKind, 
/**
 * The site (RP ID).
 */
rpId: string | null, 
/**
 * The site's name.
 */
rpName: string | null, 
/**
 * The account being registered.
 */
userName: string | null, 
/**
 * Its display name.
 */
displayName: string | null, 
/**
 * Accounts to choose from (sign-in with several matches).
 */
accounts: Array<AccountChoice>, 
/**
 * The profile that answers.
 */
profile: string, 
/**
 * Whether the site requires verification (the profile's PIN).
 */
needsVerification: boolean, 
/**
 * Whether the profile can verify (it has a PIN).
 */
canVerify: boolean, 
/**
 * One sentence describing the request.
 */
summary: string, 
/**
 * When the security key stops waiting and tells the site the request timed out (Unix
 * seconds): CTAP's 30 seconds for a person to answer.
 */
expiresAt: number, 
/**
 * The profile is locked: the dialog offers to unlock it, and the site is told "not
 * allowed" (it may ask again once the profile is unlocked).
 */
locked: boolean, 
/**
 * The request can be answered with a passkey on a phone instead.
 */
canUsePhone: boolean, };

/**
 * The user's answer in the request dialog.
 */
export type RequestAnswer = { 
/**
 * The request.
 */
id: number, 
/**
 * Approve or decline.
 */
approve: boolean, 
/**
 * The chosen account (sign-in), hex.
 */
account: string | null, 
/**
 * The profile's PIN, to verify the user.
 */
pin: string | null, 
/**
 * Answer it with a passkey on a phone instead (the QR code and steps follow as
 * `phone-progress` events).
 */
usePhone: boolean, };

/**
 * `profile_create`.
 */
export type ProfileCreateArgs = { 
/**
 * The new profile.
 */
profile: NewProfile, };

/**
 * `profile_switch`, `profile_lock`.
 */
export type ProfileArgs = { 
/**
 * The profile's name.
 */
name: string, };

/**
 * `profile_unlock`.
 */
export type ProfileUnlockArgs = { 
/**
 * The profile's name.
 */
name: string, 
/**
 * Its PIN or passphrase.
 */
pin: string, };

/**
 * `passkey_delete`.
 */
export type PasskeyArgs = { 
/**
 * The passkey's credential ID, hex.
 */
id: string, };

/**
 * `passkey_rename`.
 */
export type PasskeyRenameArgs = { 
/**
 * The passkey's credential ID, hex.
 */
id: string, 
/**
 * The account's new display name.
 */
displayName: string, };

/**
 * `phone_remove`.
 */
export type PhoneArgs = { 
/**
 * The linked phone's name.
 */
name: string, };

/**
 * `settings_save`.
 */
export type SettingsSaveArgs = { 
/**
 * The user's settings.
 */
settings: UserSettings, };

/**
 * `phone_run`.
 */
export type PhoneRunArgs = { 
/**
 * What to do with the phone.
 */
request: PhoneRequest, 
/**
 * Where each step goes (a `Channel` the window made).
 */
onEvent: Channel<PhoneEvent>, };

/**
 * `phone_cancel`.
 */
export type PhoneCancelArgs = { 
/**
 * The flow to cancel.
 */
flow: number, };

/**
 * `request_answer`.
 */
export type RequestAnswerArgs = { 
/**
 * The person's answer.
 */
answer: RequestAnswer, };

/**
 * `diagnostics_network`.
 */
export type DiagnosticsNetworkArgs = { 
/**
 * Check only the relay the settings name, not the public tunnel services.
 */
onlyRelay: boolean, 
/**
 * Where each step goes as it starts (a `Channel` the window made).
 */
onStep: Channel<NetStepView>, };

/**
 * `diagnostics_test`.
 */
export type DiagnosticsTestArgs = { 
/**
 * Play the phone with the virtual phone (no phone needed).
 */
virtualPhone: boolean, 
/**
 * Where each phase goes as it is reached (a `Channel` the window made).
 */
onPhase: Channel<TestPhaseView>, };

/**
 * `diagnostics_open_report`.
 */
export type ReportArgs = { 
/**
 * The report's page, as `diagnostics_export` returned it.
 */
path: string, };

/** The event that opens (a RequestView) or closes (null) the request dialog. */
export const REQUEST_EVENT = "request";

/** The event that carries each step (a PhoneEvent) of a request sent to the phone. */
export const PHONE_EVENT = "phone-progress";

/** The event that says the profiles changed outside the window (no payload). */
export const PROFILES_EVENT = "profiles-changed";

/** Every command: its arguments and result. */
export interface Commands {
  app_info: { args: {}; result: AppInfo };
  profiles_list: { args: {}; result: ProfileView[] };
  profile_create: { args: ProfileCreateArgs; result: ProfileView[] };
  profile_switch: { args: ProfileArgs; result: ProfileView[] };
  profile_unlock: { args: ProfileUnlockArgs; result: ProfileView[] };
  profile_lock: { args: ProfileArgs; result: ProfileView[] };
  passkeys_list: { args: {}; result: PasskeyView[] };
  passkey_rename: { args: PasskeyRenameArgs; result: PasskeyView[] };
  passkey_delete: { args: PasskeyArgs; result: PasskeyView[] };
  phones_list: { args: {}; result: LinkedPhoneView[] };
  phone_remove: { args: PhoneArgs; result: LinkedPhoneView[] };
  settings_get: { args: {}; result: SettingsView };
  settings_save: { args: SettingsSaveArgs; result: SettingsView };
  phone_run: { args: PhoneRunArgs; result: PhoneOutcome };
  phone_cancel: { args: PhoneCancelArgs; result: boolean };
  request_current: { args: {}; result: RequestView | null };
  request_answer: { args: RequestAnswerArgs; result: null };
  diagnostics_run: { args: {}; result: CheckView[] };
  diagnostics_network: { args: DiagnosticsNetworkArgs; result: CheckView[] | null };
  diagnostics_cancel: { args: {}; result: null };
  diagnostics_test: { args: DiagnosticsTestArgs; result: TestResultView };
  diagnostics_export: { args: {}; result: string };
  diagnostics_open_report: { args: ReportArgs; result: null };
}
