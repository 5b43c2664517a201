//! What the window and the app core say to each other. The serialisable types here go to the
//! webview as JSON and have generated TypeScript twins in `ui/src/ipc/bindings.ts` (the
//! `desktop` face generates them); field names are camelCase on the wire. [`PhoneProgress`]
//! is the one exception: it carries typed failures, and the window words it.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::phone::PhoneFailure;
use crate::profile::{LockState, Protection};

/// A profile as the profile switcher shows it. A locked profile shows its name and nothing
/// else: no passkey count, no accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    /// Display name.
    pub name: String,
    /// Whether it can be used now.
    pub state: LockState,
    /// How its vault key is protected.
    pub protection: Protection,
    /// Passkeys on this computer, only when unlocked.
    pub passkey_count: Option<u32>,
    /// The profile requests are answered from.
    pub active: bool,
    /// When an unlocked PIN profile locks itself if unused (Unix seconds), if it does.
    pub auto_lock_at: Option<u64>,
}

/// Where a passkey lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum PasskeyLocation {
    /// In this profile's vault, key in the OS keychain.
    ThisComputer,
    /// On a phone, used through the hybrid transport; this computer keeps its public part.
    Phone,
}

/// One passkey in the active profile's list. No key material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyView {
    /// Credential ID, hex: the handle rename and delete use.
    pub id: String,
    /// The site (RP ID).
    pub rp_id: String,
    /// The site's name, when it gave one.
    pub rp_name: Option<String>,
    /// Account name.
    pub user_name: Option<String>,
    /// Account display name.
    pub display_name: Option<String>,
    /// Created, Unix seconds.
    pub created_at: u64,
    /// Last used, Unix seconds.
    pub last_used: Option<u64>,
    /// Where the private key is.
    pub location: PasskeyLocation,
    /// The phone's name, for passkeys on a phone.
    pub phone: Option<String>,
}

/// A phone linked to the active profile (it can be reached without a QR code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LinkedPhoneView {
    /// The name the phone gave itself.
    pub name: String,
    /// Linked at, Unix seconds.
    pub linked_at: u64,
}

/// Log detail the app writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    /// Failures only.
    Error,
    /// Failures and warnings.
    Warn,
    /// Normal operation.
    #[default]
    Info,
    /// Everything, for support. Never secrets.
    Debug,
}

/// The admin policy in force, read-only in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    /// The file it came from, or `None` for the built-in defaults.
    pub source: Option<String>,
    /// Minimum PIN length.
    pub min_pin_length: u32,
    /// Whether profiles without the OS keychain are allowed.
    pub allow_passphrase_only: bool,
    /// The longest auto-lock an admin allows, in minutes (0: auto-lock off).
    pub max_auto_lock_minutes: u32,
    /// Sites that may get presence without a prompt.
    pub silent_presence_rps: Vec<String>,
    /// How many request dialogs a minute may appear.
    pub max_prompts_per_minute: u32,
    /// Start at login forced on or off by the administrator (`None`: the user chooses).
    pub start_at_login: Option<bool>,
}

/// The user's own settings, as shown and as saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct UserSettings {
    /// Minutes without use before an unlocked PIN profile locks (capped by policy).
    pub auto_lock_minutes: u32,
    /// Tunnel relay URL; `None`: the service the phone names.
    pub relay: Option<String>,
    /// HTTP proxy for the relay connection; `None`: the environment's `HTTPS_PROXY`.
    pub proxy: Option<String>,
    /// Where to look for the phone: `ble`, `ble:hciN`, or `udp://127.0.0.1:PORT` (tests).
    pub air: Option<String>,
    /// Seconds to wait for the phone.
    pub phone_timeout_secs: u32,
    /// Log detail.
    pub log_level: LogLevel,
    /// Let browsers and other FIDO clients use the active profile as a USB security key
    /// (Linux, through `/dev/uhid`; `passbridge setup-bridge` once first).
    pub security_key: bool,
    /// Start Passbridge (tray icon and security key, no window) when the user logs in.
    pub start_at_login: bool,
    /// Whether "Remember this phone" starts ticked: a phone that offers linking is then
    /// contacted without a QR code next time.
    pub remember_phones: bool,
}

impl Default for UserSettings {
    fn default() -> Self {
        Self {
            auto_lock_minutes: 15,
            relay: None,
            proxy: None,
            air: None,
            phone_timeout_secs: 120,
            log_level: LogLevel::Info,
            security_key: false,
            start_at_login: false,
            remember_phones: true,
        }
    }
}

/// The Settings screen: the policy and the user's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    /// Admin policy (read-only).
    pub policy: PolicyView,
    /// The user's settings.
    pub settings: UserSettings,
    /// Where the virtual security key listens, if it runs ("udp://…" or "/dev/uhid").
    pub security_key: Option<String>,
    /// Whether Passbridge starts at login now (the setting, or the policy where it forces
    /// one), and `None` where this system has no way to start it.
    pub starts_at_login: Option<bool>,
}

/// What a phone ceremony does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum PhoneCeremony {
    /// Create a passkey on the phone.
    Register,
    /// Sign in with a passkey on the phone.
    SignIn,
}

/// Starts a phone ceremony.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PhoneRequest {
    /// Register or sign in.
    pub ceremony: PhoneCeremony,
    /// The site (RP ID).
    pub rp_id: String,
    /// The account, for a registration.
    pub user_name: Option<String>,
    /// A linked phone to contact instead of showing a QR code.
    pub phone: Option<String>,
    /// Remember a phone that offers linking.
    pub remember_phone: bool,
}

/// Where a phone ceremony stands. Sent over a Tauri channel as it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum PhoneStep {
    /// The QR code is on screen.
    QrShown,
    /// Contacting a linked phone through the relay (no QR code).
    ContactingPhone,
    /// The phone's Bluetooth advert was matched: it is nearby.
    PhoneNearby,
    /// The tunnel relay connected us.
    RelayConnected,
    /// The Noise handshake is done.
    SecureChannel,
    /// The request is on the phone; the user approves there.
    WaitingForApproval,
    /// Finished.
    Done,
    /// Failed; `message` says why and what to do.
    Failed,
    /// Cancelled by the user.
    Cancelled,
}

/// One step of a phone flow, as it happens. The window turns it into its `PhoneEvent`, with
/// its own sentence for how the flow ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneProgress {
    /// The flow this belongs to (what cancelling takes).
    pub flow: u32,
    /// The step reached.
    pub step: PhoneStep,
    /// Milliseconds since the flow started.
    pub elapsed_ms: u32,
    /// With `QrShown`: the `FIDO:/` text.
    pub qr_url: Option<String>,
    /// With `QrShown`: the QR code as SVG (module-exact, scales crisply).
    pub qr_svg: Option<String>,
    /// With `Done`, `Failed` and `Cancelled`: how the flow ended.
    pub end: Option<FlowEnd>,
}

/// How a phone flow ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlowEnd {
    /// A passkey was created on the phone for the site.
    Registered {
        /// The site.
        rp_id: String,
    },
    /// Signed in to the site with the phone; the signature verified.
    SignedIn {
        /// The site.
        rp_id: String,
        /// The passkey's signature counter did not move forward.
        counter_regression: Option<CounterRegression>,
    },
    /// A site's request was answered on the phone; the site has the phone's answer.
    SiteAnswered,
    /// The person cancelled.
    Cancelled,
    /// The person cancelled a site's request: the site was told no.
    SiteToldNo,
    /// The flow failed: the phone's failure, or `None` when it was not the phone's (a locked
    /// profile, a passkey record that cannot be written, …).
    Failed(Option<PhoneFailure>),
}

/// A finished phone ceremony.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PhoneOutcome {
    /// What was done.
    pub ceremony: PhoneCeremony,
    /// The site.
    pub rp_id: String,
    /// The passkey used or created, hex.
    pub credential_id: String,
    /// Whether the signature (sign-in) or attestation (registration) was verified.
    pub verified: bool,
    /// A phone remembered by this ceremony.
    pub linked_phone: Option<String>,
    /// Sign-in only: the passkey's signature counter did not move forward, so the passkey
    /// may have been copied (or an old answer replayed). Kept with the passkey for the audit.
    pub counter_regression: Option<CounterRegression>,
}

/// A signature counter that did not go up (WebAuthn §7.2 step 21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CounterRegression {
    /// The counter this computer had seen.
    pub stored: u32,
    /// The counter the phone sent now.
    pub reported: u32,
    /// When, Unix seconds.
    pub at: u64,
}

/// What a site asks the active profile for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum RequestKind {
    /// Create a passkey.
    Register,
    /// Sign in.
    SignIn,
    /// Confirm (authenticatorSelection, reset, a verification-only request).
    Confirm,
}

/// An account a sign-in may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AccountChoice {
    /// Credential ID, hex.
    pub id: String,
    /// Account name.
    pub user_name: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
}

/// A pending request from a site, for the request dialog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    /// Handle for `request_answer`.
    pub id: u32,
    /// What is asked.
    pub kind: RequestKind,
    /// The site (RP ID).
    pub rp_id: Option<String>,
    /// The site's name.
    pub rp_name: Option<String>,
    /// The account being registered.
    pub user_name: Option<String>,
    /// Its display name.
    pub display_name: Option<String>,
    /// Accounts to choose from (sign-in with several matches).
    pub accounts: Vec<AccountChoice>,
    /// The profile that answers.
    pub profile: String,
    /// Whether the site requires verification (the profile's PIN).
    pub needs_verification: bool,
    /// Whether the profile can verify (it has a PIN).
    pub can_verify: bool,
    /// One sentence describing the request.
    pub summary: String,
    /// When the security key stops waiting and tells the site the request timed out (Unix
    /// seconds): CTAP's 30 seconds for a person to answer.
    pub expires_at: u64,
    /// The profile is locked: the dialog offers to unlock it, and the site is told "not
    /// allowed" (it may ask again once the profile is unlocked).
    pub locked: bool,
    /// The request can be answered with a passkey on a phone instead.
    pub can_use_phone: bool,
}

/// The user's answer in the request dialog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RequestAnswer {
    /// The request.
    pub id: u32,
    /// Approve or decline.
    pub approve: bool,
    /// The chosen account (sign-in), hex.
    pub account: Option<String>,
    /// The profile's PIN, to verify the user.
    pub pin: Option<String>,
    /// Answer it with a passkey on a phone instead (the QR code and steps follow as
    /// `phone-progress` events).
    #[serde(default)]
    pub use_phone: bool,
}

/// A new profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NewProfile {
    /// Its name.
    pub name: String,
    /// A PIN to lock it with; without one the OS keychain alone protects it.
    pub pin: Option<String>,
}
