//! Profiles and their keychain-backed vaults.
//!
//! People who share a workstation (often one OS account) each get a *profile*: their own
//! passkeys, authenticator state and history, encrypted under their own vault key.
//!
//! # Keys
//!
//! Every profile has a random 256-bit vault key. Where it lives depends on the protection:
//!
//! | protection        | keychain entry `vault:<id>`                 | on disk                     |
//! |-------------------|---------------------------------------------|-----------------------------|
//! | `keychain`        | the vault key                               | nothing                     |
//! | `keychain+PIN`    | vault key sealed under Argon2id(PIN, salt)  | salt + Argon2 parameters    |
//! | `passphrase-only` | none (no keychain available, policy allows) | key sealed under Argon2id   |
//!
//! Beside `vault:<id>`, a profile with a keychain has `anchor:<id>` (a compact list of its
//! files' hashes: rollback detection, see `anchor.rs`) and, after wrong PINs, `attempts:<id>`
//! (the failure count, see [`attempts`]); neither opens anything.
//!
//! Keychain entries are filed under service `passbridge` (Secret Service, macOS Keychain,
//! Windows Credential Manager via `keyring` 4). Records are AES-256-GCM under subkeys of the
//! vault key, bound to the profile ID and credential ID (see [`record`]). A missing keychain is
//! an error ([`Error::KeychainUnavailable`]) unless the user explicitly creates a
//! passphrase-only profile *and* policy sets `allow_passphrase_only`.
//!
//! Deleting a profile destroys its keychain entries first (crypto-shredding: the records,
//! including any backup copies, become undecryptable), then its files.
//!
//! # What "unlocked" means
//!
//! - A `keychain` profile has no PIN: it is unlocked whenever the keychain is (the OS login
//!   protects it). It cannot be locked separately.
//! - A `keychain+PIN` or `passphrase-only` profile is unlocked only inside the process that
//!   checked its PIN: the vault key is in that process's memory and nowhere else. An open
//!   [`Vault`] locks itself after the policy's idle time without use (reads such as listing
//!   passkeys do not count; sign-ins, changes and PIN checks do) and on [`Vault::lock`]; the
//!   app locks every vault when it exits. Nothing in the keychain opens the profile without
//!   the PIN, because any program in the OS account can read the keychain. (Older versions
//!   kept a `session:<id>` entry there; the app deletes those.) So each CLI call, a process of
//!   its own, needs the PIN: from `PASSBRIDGE_PIN` (scripts) or one line of stdin
//!   (`--pin-stdin`), never from a command-line argument, which other users can see in `ps`.
//!
//! A locked profile reveals only its display name (and its protection kind): credentials, user
//! names and RP IDs are inside encrypted records whose file names are keyed hashes.
//!
//! # Files
//!
//! ```text
//! <data dir>/profiles/<profile id>/profile.json     name, protection, KDF salt (no secrets)
//! <data dir>/profiles/<profile id>/state.pbr        authenticator state (PIN hash, wrapping key)
//! <data dir>/profiles/<profile id>/records/*.pbr    one encrypted record per credential
//! <data dir>/profiles/<profile id>/items/*.pbr      other secrets (linked phones, history)
//! <data dir>/profiles/<profile id>/quarantine/      records set aside as unreadable or damaged
//! <data dir>/profiles/<profile id>/attempts.json    passphrase-only: the PIN failure count
//! ```
//!
//! Record file names are the credential ID under deterministic authenticated encryption, so a
//! locked profile's directory listing reveals no IDs, yet the owner can name a record whose
//! contents were destroyed. Linked phones and other per-profile data use
//! [`Vault::put_item`] / [`Vault::items`], with the same encryption and the same locking.
//!
//! One process should write a given profile at a time (no cross-process file locking yet); a
//! second process sees changes when it next opens the profile.
//!
//! The data dir is `--data-dir`, else `PASSBRIDGE_DATA_DIR`, else `$XDG_DATA_HOME/passbridge`,
//! else `~/.local/share/passbridge`.

pub(crate) mod anchor;
pub mod attempts;
mod crypto;
mod error;
pub mod keychain;
mod manager;
mod meta;
mod paths;
pub mod record;
mod session;
mod types;
mod vault;

pub use anchor::Differences;
pub use error::Error;
pub use manager::ProfileManager;
pub use paths::{default_data_dir, write_private_file};
pub use record::Damage;
pub use types::{DeletionReport, LockState, NewProtection, ProfileSummary, Protection, Secret};
pub use vault::{Item, PasskeyInfo, RecordProblem, Vault};

#[cfg(test)]
mod tests;
