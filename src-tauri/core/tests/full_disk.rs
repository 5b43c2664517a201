//! A full disk under the vault: the data directory on a size-limited tmpfs this test mounts.
//! A sign-in that cannot save its counter fails without a signature; a registration that
//! cannot be saved is refused as "disk full"; afterwards the vault opens with everything that
//! was acknowledged, and works again once there is room.
//!
//! Mounting needs root (CI and `./dev test` run as root here); elsewhere the test says why it
//! did not run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: failing loudly is the point"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ctap::testing::ScriptedPrompt;
use ctap::{Authenticator, Config, CredentialStore, StatusCode};
use passbridge_core::policy::Policy;
use passbridge_core::profile::keychain::{KeyStore, MemoryKeychain};
use passbridge_core::profile::{Error, NewProtection, ProfileManager};
use passbridge_core::system::Env;
use passbridge_core::webauthn::{self, ClientData};

/// A tmpfs mounted for the test, unmounted when dropped.
struct TinyDisk {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl TinyDisk {
    fn mount(kib: u32) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={kib}k,mode=0700"),
                "tmpfs",
            ])
            .arg(&path)
            .status()
            .is_ok_and(|status| status.success());
        if mounted {
            return Some(Self { _dir: dir, path });
        }
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
        assert!(!root, "running as root, yet a tmpfs could not be mounted");
        eprintln!("SKIP full-disk test: mounting a tmpfs needs root");
        None
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

/// Fills the disk with one file until writing fails; returns it.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    while file
        .write_all(&chunk)
        .and_then(|()| file.sync_all())
        .is_ok()
    {}
    // One byte at a time for the last partial page.
    while file.write_all(&[0]).and_then(|()| file.sync_all()).is_ok() {}
    path
}

fn policy() -> Policy {
    Policy {
        argon2_memory_kib: 8,
        argon2_iterations: 1,
        ..Policy::default()
    }
}

type Engine<'a> =
    Authenticator<&'a passbridge_core::profile::Vault, passbridge_core::system::SystemClock, Rng>;
type Rng = passbridge_core::system::SharedRng;

fn engine(vault: &passbridge_core::profile::Vault) -> Engine<'_> {
    let env = Env::system();
    let config = Config {
        built_in_uv: true,
        ..Config::default()
    };
    Authenticator::new(vault, passbridge_core::system::SystemClock, env.rng, config).unwrap()
}

fn register(engine: &mut Engine<'_>, user: &str) -> Vec<u8> {
    let cd = ClientData::new("webauthn.create", user.as_bytes(), "https://disk.example");
    let request =
        webauthn::make_credential_request(&cd.hash, "disk.example", user.as_bytes(), user).unwrap();
    engine.handle_with_prompt(&request, &mut ScriptedPrompt::always_verify())
}

fn sign_in(engine: &mut Engine<'_>, id: &[u8]) -> Vec<u8> {
    let cd = ClientData::new("webauthn.get", b"challenge", "https://disk.example");
    let request =
        webauthn::get_assertion_request(&cd.hash, "disk.example", &[id.to_vec()]).unwrap();
    engine.handle_with_prompt(&request, &mut ScriptedPrompt::always_verify())
}

#[test]
fn a_full_disk_refuses_cleanly_and_loses_nothing_acknowledged() {
    let Some(disk) = TinyDisk::mount(512) else {
        return;
    };
    let keychain: Arc<dyn KeyStore> = Arc::new(MemoryKeychain::new());
    let manager = ProfileManager::new(&disk.path, policy(), Arc::clone(&keychain));
    manager.create("Kai", NewProtection::Keychain).unwrap();
    let mut acknowledged = Vec::new();
    let first_id;
    {
        let vault = manager.open("Kai", None).unwrap();
        let mut engine = engine(&vault);
        for user in ["kai-1", "kai-2", "kai-3"] {
            let reply = register(&mut engine, user);
            assert_eq!(reply[0], 0, "registration failed with room on the disk");
            let cd = ClientData::new("webauthn.create", user.as_bytes(), "https://disk.example");
            let registration =
                webauthn::verify_registration(&reply, "disk.example", &cd.hash).unwrap();
            acknowledged.push(registration.credential_id);
        }
        first_id = acknowledged[0].clone();
        assert_eq!(sign_in(&mut engine, &first_id)[0], 0);

        let filler = fill(&disk.path);
        // A registration that cannot be saved is refused, and says why.
        let reply = register(&mut engine, "kai-4");
        assert_eq!(reply, vec![StatusCode::KeyStoreFull.code()], "{reply:?}");
        assert!(matches!(
            vault.put_item("note", b"n", &[1; 4096]),
            Err(Error::DiskFull { .. })
        ));
        // A sign-in whose counter cannot be saved fails, with no signature in the reply.
        let reply = sign_in(&mut engine, &first_id);
        assert_eq!(reply.len(), 1, "a signature went out: {reply:?}");
        assert_ne!(reply[0], 0);
        std::fs::remove_file(filler).unwrap();
    }

    // Everything acknowledged is there, the failed sign-in did not count, and the vault opens
    // (no rollback refusal: the failed writes left the anchor accepting what is on disk).
    let again = ProfileManager::new(&disk.path, policy(), keychain);
    let vault = again.open("Kai", None).unwrap();
    assert!(vault.problems().unwrap().is_empty());
    let stored: Vec<Vec<u8>> = (&vault)
        .credentials()
        .unwrap()
        .into_iter()
        .map(|c| c.credential_id)
        .collect();
    for id in &acknowledged {
        assert!(stored.contains(id), "lost {}", hex::encode(id));
    }
    assert_eq!(stored.len(), 3, "the refused registration was kept");
    let first = (&vault).credential(&first_id).unwrap().unwrap();
    assert_eq!(first.sign_count, 1);
    let mut engine = engine(&vault);
    assert_eq!(register(&mut engine, "kai-4")[0], 0);
    assert_eq!(sign_in(&mut engine, &first_id)[0], 0);
}
