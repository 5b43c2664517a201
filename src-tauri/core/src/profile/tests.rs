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
        .create("Bob", NewProtection::KeychainPin(pin("12341234")))
        .unwrap();
    assert!(matches!(
        manager.open("Bob", None),
        Err(Error::Locked { .. })
    ));
    assert!(matches!(
        manager.open("Bob", Some(&pin("99999999"))),
        Err(Error::WrongSecret { .. })
    ));
    let summary = &manager.list().unwrap()[0];
    assert_eq!(
        (summary.state, summary.passkey_count),
        (LockState::Locked, None)
    );

    let vault = manager.unlock("Bob", &pin("12341234")).unwrap();
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

    let vault = manager.unlock("Bob", &pin("12341234")).unwrap();
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
    manager.unlock("Bob", &pin("12341234")).unwrap();
    let sessions = || {
        keychain
            .accounts()
            .into_iter()
            .filter(|a| a.starts_with("session:"))
            .count()
    };
    assert_eq!(sessions(), 0, "{:?}", keychain.accounts());
    legacy(&keychain);
    assert_eq!(manager.end_sessions().unwrap(), 1);
    assert_eq!(sessions(), 0);
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
        Err(Error::SecretTooShort { min: 6 })
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
    // The vault key and the rollback anchor.
    assert_eq!(report.keychain_entries_destroyed, 2);
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
        .create("F", NewProtection::KeychainPin(pin("11111111")))
        .unwrap();
    manager.create("G", NewProtection::Keychain).unwrap();
    let f = manager.unlock("F", &pin("11111111")).unwrap();
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

/// Tries `guess` on `name`, the way the window's unlock does.
fn try_pin(manager: &ProfileManager, name: &str, guess: &str) -> Result<Vault, Error> {
    manager.unlock(name, &pin(guess))
}

#[test]
fn wrong_pins_are_counted_delayed_and_blocked_and_a_restored_file_does_not_reset_them() {
    let dir = tempfile::tempdir().unwrap();
    let unblock = tempfile::tempdir().unwrap();
    let (manager, clock, keychain) = manager_with_keychain(dir.path(), cheap_policy());
    let manager = manager.with_unblock_dir(unblock.path());
    manager
        .create("Bob", NewProtection::KeychainPin(pin("246810")))
        .unwrap();
    let profile_dir = std::fs::read_dir(dir.path().join("profiles"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let backup = tempfile::tempdir().unwrap();
    copy_dir(&profile_dir, backup.path());

    // Four wrong PINs go straight through, each saying how many are left.
    for left in [9, 8, 7, 6] {
        match try_pin(&manager, "Bob", "000000") {
            Err(Error::WrongSecret { attempts_left, .. }) => assert_eq!(attempts_left, left),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
    assert_eq!(manager.pin_attempts_left("Bob").unwrap(), Some(6));
    // The fifth waits 30 s, even with the right PIN: waiting is not a hint.
    assert!(matches!(
        try_pin(&manager, "Bob", "246810"),
        Err(Error::PinWait { seconds: 30, .. })
    ));
    // Restoring the profile's files from before the failures changes nothing: the count is
    // in the keychain.
    copy_dir(backup.path(), &profile_dir);
    assert!(matches!(
        try_pin(&manager, "Bob", "000000"),
        Err(Error::PinWait { .. })
    ));
    clock.advance(Duration::from_secs(30));
    assert!(matches!(
        try_pin(&manager, "Bob", "000000"),
        Err(Error::WrongSecret {
            attempts_left: 5,
            ..
        })
    ));
    // Then 60 s, 120 s ...; wait each out until the limit of ten.
    for (wait, left) in [(60, 4), (120, 3), (240, 2), (480, 1), (960, 0)] {
        assert!(matches!(
            try_pin(&manager, "Bob", "000000"),
            Err(Error::PinWait { seconds, .. }) if seconds == wait
        ));
        clock.advance(Duration::from_secs(wait));
        assert!(matches!(
            try_pin(&manager, "Bob", "000000"),
            Err(Error::WrongSecret { attempts_left, .. }) if attempts_left == left
        ));
    }
    clock.advance(Duration::from_secs(86_400 * 30));
    assert!(matches!(
        try_pin(&manager, "Bob", "246810"),
        Err(Error::PinBlocked { .. })
    ));
    assert_eq!(manager.pin_attempts_left("Bob").unwrap(), Some(0));

    // A co-user who cannot write /etc cannot lift the block: a file anyone may write does not
    // count (when the test runs as root, the one below does).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let id = profile_dir.file_name().unwrap().to_owned();
        std::fs::set_permissions(unblock.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let file = unblock.path().join(&id);
        std::fs::write(&file, b"").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(matches!(
            try_pin(&manager, "Bob", "246810"),
            Err(Error::PinBlocked { .. })
        ));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let root = std::fs::metadata(&file).map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.uid() == 0
        });
        if root.unwrap() {
            // The admin's file is newer than the block: one right PIN opens the profile and
            // the count starts again.
            try_pin(&manager, "Bob", "246810").unwrap();
            assert_eq!(manager.pin_attempts_left("Bob").unwrap(), Some(10));
            assert!(
                !keychain
                    .accounts()
                    .iter()
                    .any(|a| a.starts_with("attempts:"))
            );
        }
    }
}

#[test]
fn a_right_pin_forgives_earlier_failures_and_a_damaged_count_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let (manager, _, keychain) = manager_with_keychain(dir.path(), cheap_policy());
    manager
        .create("Bob", NewProtection::KeychainPin(pin("246810")))
        .unwrap();
    for _ in 0..3 {
        assert!(try_pin(&manager, "Bob", "135790").is_err());
    }
    try_pin(&manager, "Bob", "246810").unwrap();
    assert_eq!(manager.pin_attempts_left("Bob").unwrap(), Some(10));
    let account = keychain
        .accounts()
        .into_iter()
        .find(|a| a.starts_with("vault:"))
        .unwrap()
        .replace("vault:", "attempts:");
    keychain::KeyStore::set(&*keychain, &account, b"not a count").unwrap();
    assert!(matches!(
        try_pin(&manager, "Bob", "246810"),
        Err(Error::PinBlocked { .. })
    ));
}

#[test]
fn passphrase_profiles_count_in_their_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (manager, _) = manager(dir.path(), cheap_policy());
    manager
        .create("Cy", NewProtection::PassphraseOnly(pin("correct horse")))
        .unwrap();
    assert!(matches!(
        try_pin(&manager, "Cy", "wrong horse"),
        Err(Error::WrongSecret {
            attempts_left: 9,
            ..
        })
    ));
    assert_eq!(manager.pin_attempts_left("Cy").unwrap(), Some(9));
    try_pin(&manager, "Cy", "correct horse").unwrap();
    assert_eq!(manager.pin_attempts_left("Cy").unwrap(), Some(10));
}

#[test]
fn policy_minimum_pin_length_applies_to_new_pins() {
    let dir = tempfile::tempdir().unwrap();
    let (manager, _) = manager(dir.path(), cheap_policy());
    assert!(matches!(
        manager.create("Di", NewProtection::KeychainPin(pin("12345"))),
        Err(Error::SecretTooShort { min: 6 })
    ));
    manager
        .create("Di", NewProtection::KeychainPin(pin("123456")))
        .unwrap();
}

#[test]
fn weaker_key_derivation_is_upgraded_on_the_next_unlock_and_the_pin_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let shared: Arc<dyn keychain::KeyStore> = Arc::new(MemoryKeychain::new());
    let clock = ManualClock::new();
    let old = ProfileManager::new(dir.path(), cheap_policy(), Arc::clone(&shared))
        .with_env(testing::env(&clock, 1));
    old.create("Ed", NewProtection::KeychainPin(pin("112233")))
        .unwrap();
    old.create(
        "Fay",
        NewProtection::PassphraseOnly(pin("fay's passphrase")),
    )
    .unwrap();
    let stronger = Policy {
        argon2_memory_kib: 64,
        argon2_iterations: 2,
        ..cheap_policy()
    };
    let new = ProfileManager::new(dir.path(), stronger, shared).with_env(testing::env(&clock, 2));
    for (name, secret) in [("Ed", "112233"), ("Fay", "fay's passphrase")] {
        let vault = new.unlock(name, &pin(secret)).unwrap();
        (&vault).insert(credential(4, "rp.test", name)).unwrap();
        drop(vault);
        let meta = new.find(name).unwrap();
        let kdf = meta.kdf.unwrap();
        assert_eq!((kdf.memory_kib, kdf.iterations), (64, 2), "{name}");
        assert!(meta.kdf_pending.is_none());
        let vault = new.unlock(name, &pin(secret)).unwrap();
        assert_eq!((&vault).credentials().unwrap().len(), 1, "{name}");
    }
}

#[test]
fn an_upgrade_interrupted_after_the_keychain_took_the_new_wrapping_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let (manager, _, keychain) = manager_with_keychain(dir.path(), cheap_policy());
    manager
        .create("Gus", NewProtection::KeychainPin(pin("998877")))
        .unwrap();
    // What the first two steps of an upgrade leave: the new parameters pending in
    // profile.json, the keychain already sealed under them.
    let mut meta = manager.find("Gus").unwrap();
    let pending = manager.new_kdf().unwrap();
    let key = manager.vault_key(&meta, Some(&pin("998877"))).unwrap();
    let kek = pending.derive(&pin("998877")).unwrap();
    let sealed = crypto::seal(
        &kek,
        &meta.wrap_aad(),
        key.expose_secret(),
        &mut testing::seeded_rng(5),
    )
    .unwrap();
    meta.kdf_pending = Some(pending);
    manager.write_meta(&meta).unwrap();
    keychain::KeyStore::set(&*keychain, &format!("vault:{}", meta.id), &sealed).unwrap();
    manager.unlock("Gus", &pin("998877")).unwrap();
    assert!(manager.find("Gus").unwrap().kdf_pending.is_none());
    manager.unlock("Gus", &pin("998877")).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for item in std::fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        let target = to.join(item.file_name());
        if item.file_type().unwrap().is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            std::fs::copy(item.path(), target).unwrap();
        }
    }
}

fn profile_dir_of(root: &Path) -> std::path::PathBuf {
    std::fs::read_dir(root.join("profiles"))
        .unwrap()
        .map(|item| item.unwrap().path())
        .find(|path| !path.file_name().unwrap().to_string_lossy().starts_with('.'))
        .unwrap()
}

fn state_with_retries(retries: u8) -> PersistentState {
    PersistentState {
        pin_hash: Some([7; 16]),
        pin_retries: retries,
        uv_retries: 8,
        wrapping_key: SecretKey::new([9; 32]),
        global_sign_count: 3,
        min_pin_length: 4,
    }
}

/// What an attacker with the profile's files (a backup, the same OS account) tries: restore
/// an older state file for fresh PIN retries, delete it to drop the CTAP PIN, copy back a
/// deleted passkey. Each is refused, with the files left as they are, until the owner accepts
/// them with the PIN.
#[test]
fn restored_deleted_or_resurrected_files_are_refused_not_silently_reset() {
    let dir = tempfile::tempdir().unwrap();
    let (manager, _, _) = manager_with_keychain(dir.path(), cheap_policy());
    manager
        .create("Hal", NewProtection::KeychainPin(pin("102030")))
        .unwrap();
    let mut vault = &manager.unlock("Hal", &pin("102030")).unwrap();
    vault.save_state(&state_with_retries(8)).unwrap();
    vault.insert(credential(1, "a.test", "h")).unwrap();
    vault.insert(credential(2, "b.test", "h")).unwrap();
    let profile = profile_dir_of(dir.path());
    let old = tempfile::tempdir().unwrap();
    copy_dir(&profile, old.path());
    // Wrong CTAP PINs cost retries; a passkey is deleted.
    vault.save_state(&state_with_retries(2)).unwrap();
    assert!(vault.delete(&[2; 16]).unwrap());
    vault.lock();
    let now = tempfile::tempdir().unwrap();
    copy_dir(&profile, now.path());
    let refused = |manager: &ProfileManager| {
        matches!(
            manager.unlock("Hal", &pin("102030")),
            Err(Error::RolledBack { .. })
        )
    };
    let state = |root: &Path| root.join("state.pbr");

    // 1. The older state file, with its eight retries, copied back.
    std::fs::copy(state(old.path()), state(&profile)).unwrap();
    assert!(refused(&manager), "an old state file was accepted");
    match manager.unlock("Hal", &pin("102030")) {
        Err(Error::RolledBack { differences, .. }) => {
            assert!(differences.state_changed, "{differences:?}");
            assert!(differences.to_string().contains("PIN and retries"));
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    std::fs::copy(state(now.path()), state(&profile)).unwrap();
    let vault = manager.unlock("Hal", &pin("102030")).unwrap();
    assert_eq!((&vault).load_state().unwrap().unwrap().pin_retries, 2);
    drop(vault);

    // 2. The state file deleted: not a first start, so the CTAP PIN does not vanish.
    std::fs::remove_file(state(&profile)).unwrap();
    assert!(
        refused(&manager),
        "a missing state file was taken as a first start"
    );
    std::fs::copy(state(now.path()), state(&profile)).unwrap();

    // 3. The deleted passkey's record copied back.
    let records = |root: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root.join("records"))
            .unwrap()
            .map(|item| item.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let gone: Vec<String> = records(old.path())
        .into_iter()
        .filter(|name| !records(&profile).contains(name))
        .collect();
    assert_eq!(gone.len(), 1);
    std::fs::copy(
        old.path().join("records").join(&gone[0]),
        profile.join("records").join(&gone[0]),
    )
    .unwrap();
    assert!(refused(&manager), "a deleted passkey came back");
    // Refusing changed nothing on disk.
    assert_eq!(records(&profile).len(), 2);

    // The owner, with the PIN, can take the files as they are (a restore on purpose).
    let vault = manager.accept_files("Hal", Some(&pin("102030"))).unwrap();
    assert_eq!((&vault).credentials().unwrap().len(), 2);
    drop(vault);
    manager.unlock("Hal", &pin("102030")).unwrap();
    assert!(matches!(
        manager.accept_files("Hal", Some(&pin("000000"))),
        Err(Error::WrongSecret { .. })
    ));
}

/// The command line writing a profile the window has open is not a rollback: the window's
/// next write catches up with the files the anchor names.
#[test]
fn two_processes_writing_one_profile_do_not_look_like_a_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let (window, clock, keychain) = manager_with_keychain(dir.path(), cheap_policy());
    window.create("Ivy", NewProtection::Keychain).unwrap();
    let shared: Arc<dyn keychain::KeyStore> = keychain;
    let cli =
        ProfileManager::new(dir.path(), cheap_policy(), shared).with_env(testing::env(&clock, 7));
    let mut open = &window.open("Ivy", None).unwrap();
    open.insert(credential(1, "a.test", "i")).unwrap();
    {
        let mut other = &cli.open("Ivy", None).unwrap();
        other.insert(credential(2, "b.test", "i")).unwrap();
    }
    open.insert(credential(3, "c.test", "i")).unwrap();
    let again = cli.open("Ivy", None).unwrap();
    assert_eq!((&again).credentials().unwrap().len(), 3);
}

/// One damaged and one unreadable passkey record in a keychain profile (with its rollback
/// anchor): both are moved aside to quarantine/ and named, the rest opens and works, and the
/// next open is clean — not refused as a rollback.
#[test]
fn damaged_and_unreadable_records_are_quarantined_and_the_rest_opens() {
    let dir = tempfile::tempdir().unwrap();
    let (manager, _, _) = manager_with_keychain(dir.path(), cheap_policy());
    manager.create("Jo", NewProtection::Keychain).unwrap();
    {
        let mut vault = &manager.open("Jo", None).unwrap();
        for n in 1..=3 {
            vault
                .insert(credential(n, &format!("{n}.test"), "jo"))
                .unwrap();
        }
        vault.put_item("note", b"n", b"kept").unwrap();
    }
    let profile = profile_dir_of(dir.path());
    let mut records: Vec<_> = std::fs::read_dir(profile.join("records"))
        .unwrap()
        .map(|item| item.unwrap().path())
        .collect();
    records.sort();
    let mut bytes = std::fs::read(&records[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&records[0], bytes).unwrap();
    // Unreadable even for root: a directory where the record was.
    std::fs::remove_file(&records[1]).unwrap();
    std::fs::create_dir(&records[1]).unwrap();

    let mut vault = &manager.open("Jo", None).unwrap();
    let problems = vault.problems().unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    let damages: Vec<Damage> = problems.iter().map(|p| p.damage).collect();
    assert!(damages.contains(&Damage::Unreadable), "{damages:?}");
    for problem in &problems {
        let moved = problem.moved_to.as_deref().expect("moved aside");
        assert!(profile.join(moved).exists(), "{moved}");
        assert!(problem.to_string().contains("moved aside to quarantine/"));
    }
    assert!(!records[0].exists() && !records[1].exists());
    assert_eq!(vault.credentials().unwrap().len(), 1);
    assert_eq!(vault.items("note").unwrap().len(), 1);
    vault.insert(credential(4, "4.test", "jo")).unwrap();
    let again = manager.open("Jo", None).unwrap();
    assert!(again.problems().unwrap().is_empty());
    assert_eq!((&again).credentials().unwrap().len(), 2);
}
