//! Profile manager and vault unit tests on the in-memory keychain. The Secret Service, isolation,
//! tamper, crash and leak tests live in `src-tauri/core/tests/vault.rs`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ctap::platform::{CredentialStore, PersistentState, SecretKey, StoredCredential};
use sha2::Digest;

use super::keychain::MemoryKeychain;
use super::*;
use crate::policy::Policy;
use crate::testing::{self, ManualClock};

fn cheap_policy() -> Policy {
    Policy {
        allow_passphrase_only: true,
        auto_lock_idle_secs: 60,
        ..testing::cheap_policy()
    }
}

fn manager(dir: &Path, policy: Policy) -> (ProfileManager, ManualClock) {
    let clock = ManualClock::new();
    let manager = ProfileManager::new(dir, policy, Arc::new(MemoryKeychain::new()))
        .with_env(testing::env(&clock, 1));
    (manager, clock)
}

fn credential(id: u8, rp: &str, user: &str) -> StoredCredential {
    StoredCredential {
        created_at: u64::from(id),
        ..testing::credential(id, rp, user)
    }
}

fn pin(text: &str) -> Secret {
    Secret::new(text.to_owned())
}

#[test]
fn keychain_profile_round_trip_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (manager, _) = manager(dir.path(), cheap_policy());
    manager.create("Alice", NewProtection::Keychain).unwrap();
    let vault = manager.open("Alice", None).unwrap();
    (&vault).insert(credential(1, "example.com", "u1")).unwrap();
    assert_eq!((&vault).bump_sign_count(&[1; 16]).unwrap(), 1);
    let state = PersistentState {
        pin_hash: Some([7; 16]),
        pin_retries: 5,
        uv_retries: 8,
        wrapping_key: SecretKey::new([9; 32]),
        global_sign_count: 3,
        min_pin_length: 4,
    };
    (&vault).save_state(&state).unwrap();
    drop(vault);

    let vault = manager.open("Alice", None).unwrap();
    let stored = (&vault).credential(&[1; 16]).unwrap().unwrap();
    assert_eq!(stored.sign_count, 1);
    assert_eq!((&vault).load_state().unwrap(), Some(state));
    let info = vault.passkeys().unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].use_count, 1);
    assert!(info[0].last_used.is_some());
    let hash: [u8; 32] = sha2::Sha256::digest(b"example.com").into();
    assert_eq!((&vault).credentials_for_rp(&hash).unwrap().len(), 1);
}

#[test]
fn insert_replaces_same_rp_and_user() {
    let dir = tempfile::tempdir().unwrap();
    let (manager, _) = manager(dir.path(), cheap_policy());
    manager.create("A", NewProtection::Keychain).unwrap();
    let vault = manager.open("A", None).unwrap();
    (&vault).insert(credential(1, "example.com", "u")).unwrap();
    (&vault).insert(credential(2, "example.com", "u")).unwrap();
    assert_eq!((&vault).credentials().unwrap().len(), 1);
    drop(vault);
    let vault = manager.open("A", None).unwrap();
    assert_eq!(
        (&vault).credentials().unwrap()[0].credential_id,
        vec![2; 16]
    );
    assert_eq!(manager.list().unwrap()[0].passkey_count, Some(1));
}

fn manager_with_keychain(
    dir: &Path,
    policy: Policy,
) -> (ProfileManager, ManualClock, Arc<MemoryKeychain>) {
    let clock = ManualClock::new();
    let keychain = Arc::new(MemoryKeychain::new());
    let manager = ProfileManager::new(dir, policy, {
        let shared: Arc<dyn keychain::KeyStore> = keychain.clone();
        shared
    })
    .with_env(testing::env(&clock, 1));
    (manager, clock, keychain)
}

#[test]
fn pin_profile_locks_unlocks_and_auto_locks() {
    let dir = tempfile::tempdir().unwrap();
    let (manager, clock, keychain) = manager_with_keychain(dir.path(), cheap_policy());
    manager
        .create("Bob", NewProtection::KeychainPin(pin("1234")))
        .unwrap();
    assert!(matches!(
        manager.open("Bob", None),
        Err(Error::Locked { .. })
    ));
    assert!(matches!(
        manager.open("Bob", Some(&pin("9999"))),
        Err(Error::WrongSecret { .. })
    ));
    let summary = &manager.list().unwrap()[0];
    assert_eq!(
        (summary.state, summary.passkey_count),
        (LockState::Locked, None)
    );

    let vault = manager.unlock("Bob", &pin("1234")).unwrap();
    (&vault).insert(credential(3, "rp.test", "b")).unwrap();
    // The key is in this vault only: nothing in the keychain opens the profile without the
    // PIN, for another process or a co-user reading the keychain.
    assert!(
        keychain
            .accounts()
            .iter()
            .all(|account| !account.starts_with("session:")),
        "{:?}",
        keychain.accounts()
    );
    assert!(matches!(
        manager.open("Bob", None),
        Err(Error::Locked { .. })
    ));
    assert_eq!(manager.list().unwrap()[0].state, LockState::Locked);

    // Reads do not keep it open; a change restarts the idle timer.
    clock.advance(Duration::from_secs(40));
    assert_eq!(vault.passkeys().unwrap().len(), 1);
    clock.advance(Duration::from_secs(21));
    assert!(vault.is_locked(), "a read counted as use");
    assert!((&vault).credentials().is_err());

    let vault = manager.unlock("Bob", &pin("1234")).unwrap();
    clock.advance(Duration::from_secs(40));
    vault.note_use().unwrap();
    clock.advance(Duration::from_secs(40));
    assert!(!vault.is_locked(), "use did not restart the idle timer");
    clock.advance(Duration::from_secs(21));
    assert!(vault.is_locked());
    assert!(vault.note_use().is_err());

    // A session entry an older version left behind is removed by lock and by unlock.
    let legacy = |k: &MemoryKeychain| {
        let id = k
            .accounts()
            .iter()
            .find_map(|a| a.strip_prefix("vault:").map(str::to_owned))
            .unwrap();
        k.set(&format!("session:{id}"), &[0; 40]).unwrap();
    };
    use super::keychain::KeyStore as _;
    legacy(&keychain);
    assert!(manager.lock("Bob").unwrap());
    assert!(!manager.lock("Bob").unwrap());
    legacy(&keychain);
    manager.unlock("Bob", &pin("1234")).unwrap();
    assert_eq!(keychain.accounts().len(), 1, "{:?}", keychain.accounts());
    legacy(&keychain);
    assert_eq!(manager.end_sessions().unwrap(), 1);
    assert_eq!(keychain.accounts().len(), 1);
}

#[test]
fn passphrase_only_needs_policy_and_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let (strict, _) = manager(
        dir.path(),
        Policy {
            allow_passphrase_only: false,
            ..cheap_policy()
        },
    );
    assert!(matches!(
        strict.create("C", NewProtection::PassphraseOnly(pin("long passphrase"))),
        Err(Error::PassphraseOnlyNotAllowed)
    ));
    assert!(matches!(
        strict.create("C", NewProtection::KeychainPin(pin("12"))),
        Err(Error::SecretTooShort { min: 4 })
    ));
    let (manager, _) = manager(dir.path(), cheap_policy());
    manager
        .create("C", NewProtection::PassphraseOnly(pin("long passphrase")))
        .unwrap();
    assert!(matches!(manager.open("C", None), Err(Error::Locked { .. })));
    let vault = manager.open("C", Some(&pin("long passphrase"))).unwrap();
    (&vault).insert(credential(4, "rp", "c")).unwrap();
    assert_eq!(manager.list().unwrap()[0].state, LockState::Locked);
}

#[test]
fn rename_delete_and_name_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (manager, _) = manager(dir.path(), cheap_policy());
    manager.create("Dana", NewProtection::Keychain).unwrap();
    manager
        .create("Eve", NewProtection::PassphraseOnly(pin("passphrase")))
        .unwrap();
    assert!(matches!(
        manager.create("dana", NewProtection::Keychain),
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(
        manager.create(" x", NewProtection::Keychain),
        Err(Error::InvalidName(_))
    ));
    manager.rename("Dana", "Dana R").unwrap();
    let vault = manager.open("Dana R", None).unwrap();
    (&vault).insert(credential(5, "rp", "d")).unwrap();
    drop(vault);

    let report = manager.delete("Dana R").unwrap();
    assert_eq!(report.keychain_entries_destroyed, 1);
    assert_eq!(report.records_removed, 1);
    assert_eq!(report.protection, Protection::Keychain);
    assert!(!report.wrapped_key_overwritten);
    let report = manager.delete("Eve").unwrap();
    assert!(report.wrapped_key_overwritten);
    assert!(manager.list().unwrap().is_empty());
    assert!(matches!(
        manager.open("Dana R", None),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn items_are_encrypted_per_profile_and_hidden_when_locked() {
    let dir = tempfile::tempdir().unwrap();
    let (manager, _) = manager(dir.path(), cheap_policy());
    manager
        .create("F", NewProtection::KeychainPin(pin("1111")))
        .unwrap();
    manager.create("G", NewProtection::Keychain).unwrap();
    let f = manager.unlock("F", &pin("1111")).unwrap();
    let g = manager.open("G", None).unwrap();
    f.put_item("linked-phone", b"pixel", b"pairing secret F")
        .unwrap();
    g.put_item("linked-phone", b"iphone", b"pairing secret G")
        .unwrap();
    let items = f.items("linked-phone").unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0].0.as_slice(), items[0].1.as_slice()),
        (&b"pixel"[..], &b"pairing secret F"[..])
    );
    assert!(f.items("history").unwrap().is_empty());
    assert!(g.remove_item("linked-phone", b"iphone").unwrap());
    assert!(g.items("linked-phone").unwrap().is_empty());
    f.lock();
    assert!(f.items("linked-phone").is_err());
}
