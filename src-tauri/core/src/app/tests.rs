//! The app core as the window uses it, on the in-memory keychain: profiles, the locked view,
//! settings, the request broker and a phone ceremony over a real relay on loopback.

use std::time::Duration;

use ctap::CredentialStore as _;
use ctap::platform::{CandidateAccount, StoredCredential};
use ctap::{PromptOutcome, PromptReason, PromptRequest};

use super::broker::BrokerPrompt;
use super::types::{
    NewProfile, PasskeyLocation, PhoneCeremony, PhoneProgress, PhoneRequest, PhoneStep,
    RequestAnswer, RequestKind,
};
use super::*;
use crate::authenticator::prompt::PromptSource;
use crate::phone::PhoneFailure;
use crate::profile::keychain::MemoryKeychain;
use crate::profile::{Error as ProfileError, LockState};
use crate::testing::{self, ManualClock};

/// The kind of an error, named as the window's codes name them (the words are the window's).
fn kind(error: &AppError) -> &'static str {
    match error {
        AppError::Locked(_) | AppError::Profile(ProfileError::Locked { .. }) => "locked",
        AppError::Profile(ProfileError::WrongSecret { .. }) => "wrong-pin",
        AppError::NotFound(_) | AppError::Profile(ProfileError::NotFound(_)) => "not-found",
        AppError::NoPin(_) | AppError::Profile(ProfileError::NotLockable { .. }) => "no-pin",
        AppError::InvalidInput(_) => "invalid-input",
        AppError::SettingsDamaged { .. } => "damaged",
        AppError::Phone(PhoneFailure::Cancelled) => "cancelled",
        AppError::SecurityKey(_) => "unavailable",
        _ => "other",
    }
}

fn policy() -> Policy {
    Policy {
        argon2_memory_kib: 8,
        argon2_iterations: 1,
        auto_lock_idle_secs: 600,
        ..Policy::default()
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    core: Arc<AppCore>,
    clock: ManualClock,
    keychain: Arc<MemoryKeychain>,
}

fn setup(dir: &std::path::Path, keychain: Arc<MemoryKeychain>, clock: &ManualClock) -> CoreSetup {
    CoreSetup {
        data_dir: dir.to_path_buf(),
        admin: policy(),
        policy_source: None,
        keychain,
        env: testing::env(clock, 3),
        tunnel: TunnelConfig::default(),
        autostart: None,
    }
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let keychain = Arc::new(MemoryKeychain::new());
    let core = AppCore::new(setup(dir.path(), keychain.clone(), &clock)).unwrap();
    Fixture {
        _dir: dir,
        core: Arc::new(core),
        clock,
        keychain,
    }
}

fn new_profile(name: &str, pin: Option<&str>) -> NewProfile {
    NewProfile {
        name: name.to_owned(),
        pin: pin.map(str::to_owned),
    }
}

fn credential(id: u8, rp: &str, user: &str) -> StoredCredential {
    StoredCredential {
        rp_name: Some("Example".into()),
        user_id: vec![id; 8],
        ..testing::credential(id, rp, user)
    }
}

#[test]
fn a_new_profile_is_active_unlocked_and_empty() {
    let f = fixture();
    let profiles = f
        .core
        .create_profile(new_profile("Ana", Some("24682468")))
        .unwrap();
    assert_eq!(profiles.len(), 1);
    let ana = &profiles[0];
    assert!(ana.active);
    assert_eq!(ana.state, LockState::Unlocked);
    assert_eq!(ana.passkey_count, Some(0));
    // 600 s of policy auto-lock, capped by the default 15-minute setting: 600 s.
    assert_eq!(ana.auto_lock_at, Some(1_700_000_600));
    assert!(f.core.passkeys().unwrap().is_empty());
}

#[test]
fn a_locked_profile_reveals_nothing_but_its_name() {
    let f = fixture();
    f.core
        .create_profile(new_profile("Ana", Some("24682468")))
        .unwrap();
    let (_, vault) = f.core.active_vault().unwrap();
    { &*vault }
        .insert(credential(1, "example.com", "ana@example.com"))
        .unwrap();
    assert_eq!(f.core.passkeys().unwrap().len(), 1);

    let profiles = f.core.lock_profile("Ana").unwrap();
    assert_eq!(profiles[0].state, LockState::Locked);
    assert_eq!(profiles[0].passkey_count, None);
    assert_eq!(profiles[0].auto_lock_at, None);
    let error = f.core.passkeys().unwrap_err();
    assert_eq!(kind(&error), "locked");
    assert!(!format!("{error:?}").contains("ana@"), "{error:?}");
    assert_eq!(kind(&f.core.linked_phones().unwrap_err()), "locked");
    // The JSON the window gets has no account anywhere.
    let json = serde_json::to_string(&profiles).unwrap();
    assert!(!json.contains("example.com"), "{json}");

    let error = f.core.unlock_profile("Ana", "11111111".into()).unwrap_err();
    assert_eq!(kind(&error), "wrong-pin");
    let profiles = f.core.unlock_profile("Ana", "24682468".into()).unwrap();
    assert_eq!(profiles[0].state, LockState::Unlocked);
    assert_eq!(profiles[0].passkey_count, Some(1));
}

#[test]
fn the_idle_timer_locks_the_active_profile() {
    let f = fixture();
    f.core
        .create_profile(new_profile("Ana", Some("24682468")))
        .unwrap();
    f.clock.advance(Duration::from_secs(601));
    // The keychain session also expires with the idle time.
    assert_eq!(f.core.profiles().unwrap()[0].state, LockState::Locked);
    assert_eq!(kind(&f.core.passkeys().unwrap_err()), "locked");
}

#[test]
fn switching_profiles_keeps_them_apart() {
    let f = fixture();
    f.core.create_profile(new_profile("Ana", None)).unwrap();
    let (_, ana) = f.core.active_vault().unwrap();
    { &*ana }
        .insert(credential(1, "example.com", "ana"))
        .unwrap();
    f.core.create_profile(new_profile("Ben", None)).unwrap();
    assert!(
        f.core.passkeys().unwrap().is_empty(),
        "Ben sees Ana's passkey"
    );
    let profiles = f.core.switch_profile("Ana").unwrap();
    assert!(profiles.iter().find(|p| p.name == "Ana").unwrap().active);
    assert_eq!(
        f.core.passkeys().unwrap()[0].user_name.as_deref(),
        Some("ana")
    );
    assert_eq!(
        kind(&f.core.switch_profile("Nobody").unwrap_err()),
        "not-found"
    );
    // A keychain-only profile cannot lock on its own, and says so.
    assert_eq!(kind(&f.core.lock_profile("Ana").unwrap_err()), "no-pin");
}

#[test]
fn passkeys_rename_and_delete() {
    let f = fixture();
    f.core.create_profile(new_profile("Ana", None)).unwrap();
    let (_, vault) = f.core.active_vault().unwrap();
    { &*vault }
        .insert(credential(7, "example.com", "ana"))
        .unwrap();
    let id = hex::encode([7u8; 16]);
    let list = f.core.rename_passkey(&id, "Work laptop key").unwrap();
    assert_eq!(list[0].display_name.as_deref(), Some("Work laptop key"));
    assert_eq!(
        kind(&f.core.rename_passkey(&id, "   ").unwrap_err()),
        "invalid-input"
    );
    assert!(f.core.delete_passkey(&id).unwrap().is_empty());
    assert_eq!(kind(&f.core.delete_passkey(&id).unwrap_err()), "not-found");
    assert_eq!(
        kind(&f.core.delete_passkey("zz").unwrap_err()),
        "invalid-input"
    );
}

#[test]
fn settings_are_checked_saved_and_capped_by_policy() {
    let f = fixture();
    let mut settings = f.core.user_settings().unwrap();
    settings.relay = Some("http://relay.example".into());
    let error = f.core.save_settings(settings.clone()).unwrap_err();
    assert!(
        matches!(
            &error,
            AppError::InvalidInput(Invalid::Setting(Setting::Relay, relay))
                if relay == "http://relay.example"
        ),
        "{error:?}"
    );
    settings.relay = Some("ws://127.0.0.1:8787".into());
    settings.air = Some("carrier-pigeon".into());
    assert!(matches!(
        f.core.save_settings(settings.clone()).unwrap_err(),
        AppError::InvalidInput(Invalid::Setting(Setting::Air, _))
    ));
    settings.air = Some("udp://127.0.0.1:9999".into());
    settings.auto_lock_minutes = 5;
    let view = f.core.save_settings(settings.clone()).unwrap();
    assert_eq!(view.settings, settings);
    assert_eq!(view.policy.max_auto_lock_minutes, 10);
    assert_eq!(view.policy.source, None);

    // A new core (the next start) reads them back, and the shorter auto-lock applies.
    let again = AppCore::new(setup(f._dir.path(), f.keychain.clone(), &f.clock)).unwrap();
    assert_eq!(again.user_settings().unwrap(), settings);
    let profiles = again
        .create_profile(new_profile("Ana", Some("24682468")))
        .unwrap();
    assert_eq!(profiles[0].auto_lock_at, Some(1_700_000_300));
}

#[test]
fn watchers_hear_of_every_profile_change_made_by_a_call() {
    let f = fixture();
    let heard = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&heard);
    f.core.on_change(Box::new(move || {
        count.fetch_add(1, Ordering::SeqCst);
    }));
    let heard_now = || heard.load(Ordering::SeqCst);
    f.core
        .create_profile(new_profile("Ana", Some("24682468")))
        .unwrap();
    let after_create = heard_now();
    assert!(after_create >= 1);
    f.core.profiles().unwrap();
    assert_eq!(heard_now(), after_create, "looking changes nothing");
    f.core.lock_profile("Ana").unwrap();
    assert!(heard_now() > after_create);
    let after_lock = heard_now();
    assert!(f.core.unlock_profile("Ana", "11111111".into()).is_err());
    f.core.unlock_profile("Ana", "24682468".into()).unwrap();
    assert!(heard_now() > after_lock);
    let after_unlock = heard_now();
    f.core.create_profile(new_profile("Ben", None)).unwrap();
    f.core.switch_profile("Ana").unwrap();
    assert!(heard_now() >= after_unlock + 2);
}

#[test]
fn start_at_login_follows_the_setting_unless_the_policy_forces_it() {
    let dir = tempfile::tempdir().unwrap();
    let autostart_dir = dir.path().join("config/autostart");
    let entry = autostart_dir.join(crate::autostart::ENTRY_FILE);
    let core_with = |forced: Option<bool>| {
        let mut setup = setup(
            &dir.path().join("data"),
            Arc::new(MemoryKeychain::new()),
            &ManualClock::new(),
        );
        setup.admin.start_at_login = forced;
        setup.autostart = Some(Autostart::new(&autostart_dir, "/usr/bin/passbridge"));
        AppCore::new(setup).unwrap()
    };
    // An entry made some other way (a desktop's startup applications tool) survives a start
    // with the setting off: only saving the setting writes or removes it.
    std::fs::create_dir_all(&autostart_dir).unwrap();
    std::fs::write(&entry, b"[Desktop Entry]\nExec=passbridge\n").unwrap();
    core_with(None).apply_start_at_login().unwrap();
    assert!(
        entry.exists(),
        "a start removed an entry nobody asked Passbridge to remove"
    );
    assert_eq!(
        core_with(None).settings().unwrap().starts_at_login,
        Some(true)
    );
    std::fs::remove_file(&entry).unwrap();
    let core = core_with(None);
    core.apply_start_at_login().unwrap();
    assert!(!entry.exists(), "off by default");
    assert_eq!(core.settings().unwrap().starts_at_login, Some(false));
    let mut settings = core.user_settings().unwrap();
    settings.start_at_login = true;
    let view = core.save_settings(settings.clone()).unwrap();
    assert_eq!(view.starts_at_login, Some(true));
    assert_eq!(view.policy.start_at_login, None);
    assert!(
        std::fs::read_to_string(&entry)
            .unwrap()
            .contains(" gui --background\n")
    );
    settings.start_at_login = false;
    assert_eq!(
        core.save_settings(settings.clone())
            .unwrap()
            .starts_at_login,
        Some(false)
    );
    assert!(!entry.exists(), "the entry goes when the setting turns off");

    // The administrator forces it on: the next start writes the entry whatever the user chose,
    // and saving the user's "off" does not remove it.
    let forced = core_with(Some(true));
    forced.apply_start_at_login().unwrap();
    assert!(entry.exists());
    let view = forced.save_settings(settings.clone()).unwrap();
    assert_eq!(
        (view.policy.start_at_login, view.starts_at_login),
        (Some(true), Some(true))
    );
    assert!(entry.exists());
    // Forced off: removed at the next start though the user turned it on.
    settings.start_at_login = true;
    core.save_settings(settings).unwrap();
    let off = core_with(Some(false));
    off.apply_start_at_login().unwrap();
    assert!(!entry.exists());
    assert_eq!(off.settings().unwrap().starts_at_login, Some(false));
}

#[test]
fn start_at_login_that_cannot_be_written_is_an_error_after_the_rest_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the autostart directory should be.
    std::fs::write(dir.path().join("autostart"), b"").unwrap();
    let mut setup = setup(
        &dir.path().join("data"),
        Arc::new(MemoryKeychain::new()),
        &ManualClock::new(),
    );
    setup.autostart = Some(Autostart::new(
        dir.path().join("autostart"),
        "/usr/bin/passbridge",
    ));
    let core = AppCore::new(setup).unwrap();
    let mut settings = core.user_settings().unwrap();
    settings.start_at_login = true;
    settings.phone_timeout_secs = 90;
    let error = core.save_settings(settings).unwrap_err();
    assert!(matches!(error, AppError::Autostart { .. }), "{error:?}");
    assert_eq!(core.user_settings().unwrap().phone_timeout_secs, 90);
}

#[test]
fn a_damaged_settings_file_is_reported_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.json"), b"{ not json").unwrap();
    let error = AppCore::new(setup(
        dir.path(),
        Arc::new(MemoryKeychain::new()),
        &ManualClock::new(),
    ))
    .unwrap_err();
    assert_eq!(kind(&error), "damaged");
    assert_eq!(
        std::fs::read(dir.path().join("app.json")).unwrap(),
        b"{ not json"
    );
}

fn prompt_request(reason: PromptReason, need_uv: bool, candidates: &[u8]) -> PromptRequest {
    PromptRequest {
        reason,
        rp_id: Some("example.com".into()),
        rp_name: Some("Example".into()),
        user_name: Some("ana@example.com".into()),
        user_display_name: None,
        candidates: candidates
            .iter()
            .map(|id| CandidateAccount {
                credential_id: vec![*id; 16],
                user_id: vec![*id],
                user_name: Some(format!("user{id}")),
                user_display_name: None,
            })
            .collect(),
        need_uv,
        deadline: ctap::Clock::now(&ManualClock::new()) + Duration::from_secs(30),
    }
}

/// Records what the window would be told.
fn watch(core: &AppCore) -> Arc<Mutex<Vec<Option<u32>>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    core.broker().set_notify(Box::new(move |view| {
        sink.lock().unwrap().push(view.map(|v| v.id))
    }));
    seen
}

#[test]
fn the_request_dialog_verifies_the_pin_and_picks_the_account() {
    let f = fixture();
    f.core
        .create_profile(new_profile("Ana", Some("24682468")))
        .unwrap();
    let seen = watch(&f.core);
    let mut prompt = BrokerPrompt::new(f.core.clone());
    let request = prompt_request(PromptReason::SignIn, true, &[1, 2]);
    assert_eq!(prompt.poll(&request, true), None);
    let view = f.core.current_request().unwrap();
    assert_eq!(view.kind, RequestKind::SignIn);
    assert_eq!(view.profile, "Ana");
    assert_eq!(view.accounts.len(), 2);
    assert!(view.needs_verification && view.can_verify && !view.locked);
    assert_eq!(*seen.lock().unwrap(), vec![Some(view.id)]);

    let answer = |pin: Option<&str>, account: Option<String>| RequestAnswer {
        id: view.id,
        approve: true,
        account,
        pin: pin.map(str::to_owned),
        use_phone: false,
    };
    // No PIN for a site that needs verification, a wrong PIN, an account not offered: each
    // is refused and the request stays open.
    assert_eq!(
        kind(&f.core.answer_request(answer(None, None)).unwrap_err()),
        "invalid-input"
    );
    assert_eq!(
        kind(
            &f.core
                .answer_request(answer(Some("00000000"), None))
                .unwrap_err()
        ),
        "wrong-pin"
    );
    assert_eq!(
        kind(
            &f.core
                .answer_request(answer(Some("24682468"), Some(hex::encode([9u8; 16]))))
                .unwrap_err()
        ),
        "invalid-input"
    );
    assert_eq!(prompt.poll(&request, false), None);
    let (_, before) = f.core.active_vault().unwrap();
    f.core
        .answer_request(answer(Some("24682468"), Some(hex::encode([2u8; 16]))))
        .unwrap();
    // Verifying the PIN keeps the one open vault: the security key writes through the same
    // instance the window lists from.
    assert!(Arc::ptr_eq(&before, &f.core.active_vault().unwrap().1));
    assert_eq!(
        prompt.poll(&request, false),
        Some(PromptOutcome::Approved {
            user_verified: true,
            chosen_credential: Some(vec![2; 16]),
        })
    );
    assert_eq!(f.core.current_request(), None);
    // The dialog closes once the authenticator has carried the answer out.
    assert_eq!(*seen.lock().unwrap(), vec![Some(view.id)]);
    prompt.resolved();
    assert_eq!(*seen.lock().unwrap(), vec![Some(view.id), None]);
    // Answering again: the request is gone.
    assert_eq!(
        kind(
            &f.core
                .answer_request(answer(Some("24682468"), None))
                .unwrap_err()
        ),
        "not-found"
    );
}

/// A program asking for a factory reset of a PIN profile gets it only with that PIN: a click
/// by whoever sits at the seat is not enough.
#[test]
fn resetting_a_pin_profile_takes_its_pin() {
    let f = fixture();
    f.core
        .create_profile(new_profile("Ana", Some("24682468")))
        .unwrap();
    let mut prompt = BrokerPrompt::new(f.core.clone());
    let request = prompt_request(PromptReason::Reset, false, &[]);
    assert_eq!(prompt.poll(&request, true), None);
    let view = f.core.current_request().unwrap();
    assert!(view.needs_verification, "{view:?}");
    let answer = |pin: Option<&str>| RequestAnswer {
        id: view.id,
        approve: true,
        account: None,
        pin: pin.map(str::to_owned),
        use_phone: false,
    };
    assert_eq!(
        kind(&f.core.answer_request(answer(None)).unwrap_err()),
        "invalid-input"
    );
    assert_eq!(
        kind(&f.core.answer_request(answer(Some("00000000"))).unwrap_err()),
        "wrong-pin"
    );
    assert_eq!(prompt.poll(&request, false), None, "still waiting");
    f.core.answer_request(answer(Some("24682468"))).unwrap();
    assert!(matches!(
        prompt.poll(&request, false),
        Some(PromptOutcome::Approved {
            user_verified: true,
            ..
        })
    ));
}

#[test]
fn declining_denies_and_a_withdrawn_request_closes_the_dialog() {
    let f = fixture();
    f.core.create_profile(new_profile("Ana", None)).unwrap();
    let seen = watch(&f.core);
    let mut prompt = BrokerPrompt::new(f.core.clone());
    let request = prompt_request(PromptReason::Register, false, &[]);
    prompt.poll(&request, true);
    let view = f.core.current_request().unwrap();
    assert_eq!(view.kind, RequestKind::Register);
    assert!(!view.can_verify, "a keychain-only profile has no PIN");
    assert!(view.can_use_phone);
    f.core
        .answer_request(RequestAnswer {
            id: view.id,
            approve: false,
            account: None,
            pin: None,
            use_phone: false,
        })
        .unwrap();
    assert_eq!(prompt.poll(&request, false), Some(PromptOutcome::Denied));
    prompt.resolved();

    prompt.poll(&request, true);
    let second = f.core.current_request().unwrap();
    prompt.withdrawn();
    assert_eq!(f.core.current_request(), None);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![Some(view.id), None, Some(second.id), None]
    );
}

#[test]
fn a_locked_profile_shows_the_unlock_prompt_then_denies() {
    let f = fixture();
    f.core
        .create_profile(new_profile("Ana", Some("24682468")))
        .unwrap();
    f.core.lock_profile("Ana").unwrap();
    let mut prompt = BrokerPrompt::new(f.core.clone());
    let request = prompt_request(PromptReason::Register, false, &[]);
    prompt.poll(&request, true);
    let view = f.core.current_request().unwrap();
    assert!(view.locked);
    assert!(
        !view.can_use_phone,
        "a locked profile offers nothing but unlocking"
    );
    assert_eq!(view.profile, "Ana");
    // The person unlocks from the dialog; this request is still refused (the site asks again).
    f.core.unlock_profile("Ana", "24682468".into()).unwrap();
    f.core
        .answer_request(RequestAnswer {
            id: view.id,
            approve: true,
            account: None,
            pin: None,
            use_phone: false,
        })
        .unwrap();
    assert_eq!(prompt.poll(&request, false), Some(PromptOutcome::Denied));
}

/// A registration and a sign-in on the virtual phone through a real relay on loopback, as the
/// window runs them: every step is reported in order, the phone passkey joins the list, and
/// a linked phone is remembered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_register_and_sign_in_report_every_step() {
    use hybrid::io::phone::{Behaviour, CtapPhone};
    use hybrid::io::relay::{Relay, RelayConfig};

    use crate::phone::Air;
    use crate::phone::virtual_phone::{self, PhoneOptions, PhoneStart};

    let f = fixture();
    f.core.create_profile(new_profile("Ana", None)).unwrap();
    let relay = Relay::bind(([127, 0, 0, 1], 0).into(), RelayConfig::default())
        .await
        .unwrap();
    let relay_url = format!("ws://{}", relay.local_addr().unwrap());
    let relay_task = tokio::spawn(relay.run());
    let air = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut settings = f.core.user_settings().unwrap();
    settings.relay = Some(relay_url.clone());
    settings.air = Some(format!("udp://{air}"));
    settings.phone_timeout_secs = 30;
    f.core.save_settings(settings).unwrap();

    let phone_env = Env::system();
    let engine = ctap::Authenticator::new(
        ctap::MemoryStore::new(),
        phone_env.clock.clone(),
        phone_env.rng.clone(),
        virtual_phone::engine_config(),
    )
    .unwrap();
    let phone_opts = PhoneOptions {
        relay: relay_url.clone(),
        air: Air::Udp(air),
        timeout: Duration::from_secs(30),
        wrong_psk_for_testing: false,
        tunnel: TunnelConfig::default(),
    };
    let phone = Arc::new(tokio::sync::Mutex::new(CtapPhone::new(
        engine,
        Behaviour::Answer,
    )));

    for ceremony in [PhoneCeremony::Register, PhoneCeremony::SignIn] {
        let steps = Arc::new(Mutex::new(Vec::new()));
        let (qr_tx, qr_rx) = tokio::sync::oneshot::channel::<String>();
        let mut qr_tx = Some(qr_tx);
        let phone_task = {
            let phone = phone.clone();
            let phone_opts = phone_opts.clone();
            let phone_env = phone_env.clone();
            tokio::spawn(async move {
                let qr = qr_rx.await.unwrap();
                let mut phone = phone.lock().await;
                virtual_phone::run(
                    &mut phone,
                    &phone_env,
                    PhoneStart::Qr(&qr),
                    None,
                    &phone_opts,
                    &mut |_| {},
                    std::future::pending(),
                )
                .await
            })
        };
        let sink = steps.clone();
        let mut emit = move |event: PhoneProgress| {
            if let (Some(url), Some(tx)) = (&event.qr_url, qr_tx.take()) {
                assert!(event.qr_svg.as_deref().unwrap().starts_with("<?xml"));
                tx.send(url.clone()).unwrap();
            }
            sink.lock().unwrap().push(event.step);
        };
        let outcome = f
            .core
            .run_phone(
                PhoneRequest {
                    ceremony,
                    rp_id: "example.com".into(),
                    user_name: Some("ana@example.com".into()),
                    phone: None,
                    remember_phone: true,
                },
                &mut emit,
            )
            .await
            .unwrap();
        phone_task.await.unwrap().unwrap();
        assert!(outcome.verified || ceremony == PhoneCeremony::Register);
        assert_eq!(
            *steps.lock().unwrap(),
            vec![
                PhoneStep::QrShown,
                PhoneStep::PhoneNearby,
                PhoneStep::RelayConnected,
                PhoneStep::SecureChannel,
                PhoneStep::WaitingForApproval,
                PhoneStep::Done
            ]
        );
        let passkeys = f.core.passkeys().unwrap();
        assert_eq!(passkeys.len(), 1);
        assert_eq!(passkeys[0].location, PasskeyLocation::Phone);
        assert_eq!(passkeys[0].id, outcome.credential_id);
        if ceremony == PhoneCeremony::SignIn {
            assert!(passkeys[0].last_used.is_some());
        }
    }
    relay_task.abort();
}

/// Cancel while the QR code is up ends the ceremony as cancelled; bad input is refused before
/// anything starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_cancel_and_bad_input() {
    let f = fixture();
    f.core.create_profile(new_profile("Ana", None)).unwrap();
    let air = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut settings = f.core.user_settings().unwrap();
    settings.relay = Some("ws://127.0.0.1:9".into());
    settings.air = Some(format!("udp://{air}"));
    settings.phone_timeout_secs = 10;
    f.core.save_settings(settings).unwrap();

    let steps = Arc::new(Mutex::new(Vec::new()));
    let sink = steps.clone();
    let core = f.core.clone();
    let mut emit = move |event: PhoneProgress| {
        if event.step == PhoneStep::QrShown {
            // The person presses Cancel while the QR code is up.
            assert!(core.cancel_phone(event.flow));
        }
        sink.lock().unwrap().push(event.step);
    };
    let request = PhoneRequest {
        ceremony: PhoneCeremony::Register,
        rp_id: "example.com".into(),
        user_name: Some("ana".into()),
        phone: None,
        remember_phone: false,
    };
    let error = f
        .core
        .run_phone(request.clone(), &mut emit)
        .await
        .unwrap_err();
    assert_eq!(kind(&error), "cancelled");
    assert_eq!(
        *steps.lock().unwrap(),
        vec![PhoneStep::QrShown, PhoneStep::Cancelled]
    );
    assert!(!f.core.cancel_phone(1), "nothing left to cancel");

    let mut no_account = request.clone();
    no_account.user_name = None;
    let mut ignore = |_| {};
    assert_eq!(
        kind(&f.core.run_phone(no_account, &mut ignore).await.unwrap_err()),
        "invalid-input"
    );
    let mut sign_in = request;
    sign_in.ceremony = PhoneCeremony::SignIn;
    let error = f.core.run_phone(sign_in, &mut ignore).await.unwrap_err();
    assert!(
        matches!(&error, AppError::NotFound(Missing::PhonePasskeyFor(site)) if site == "example.com"),
        "{error:?}"
    );
}

#[test]
fn use_a_phone_instead_hands_the_request_to_the_phone() {
    let f = fixture();
    f.core.create_profile(new_profile("Ana", None)).unwrap();
    let mut prompt = BrokerPrompt::new(f.core.clone());
    let request = prompt_request(PromptReason::SignIn, false, &[1]);
    prompt.poll(&request, true);
    let view = f.core.current_request().unwrap();
    assert!(view.can_use_phone);
    f.core
        .answer_request(RequestAnswer {
            id: view.id,
            approve: false,
            account: None,
            pin: None,
            use_phone: true,
        })
        .unwrap();
    assert_eq!(prompt.poll(&request, false), Some(PromptOutcome::Forward));
}

/// CTAPHID over loopback UDP, the way a test client reaches the app's security key: one
/// CBOR command, keepalives skipped, the answer reassembled.
fn ctap_over_udp(
    socket: &std::net::UdpSocket,
    key: std::net::SocketAddr,
    cid: u32,
    command: u8,
    payload: &[u8],
) -> Vec<u8> {
    for report in ctap::ctaphid::fragment(cid, command, payload) {
        socket.send_to(&report, key).unwrap();
    }
    let mut buf = [0u8; 64];
    let mut data = Vec::new();
    let mut len = None;
    loop {
        let (n, _) = socket.recv_from(&mut buf).unwrap();
        assert_eq!(n, 64);
        if buf[4] == 0x80 | ctap::ctaphid::cmd::KEEPALIVE {
            continue;
        }
        if len.is_none() {
            len = Some(usize::from(u16::from_be_bytes([buf[5], buf[6]])));
            data.extend_from_slice(&buf[7..]);
        } else {
            data.extend_from_slice(&buf[5..]);
        }
        if data.len() >= len.unwrap() {
            data.truncate(len.unwrap());
            return data;
        }
    }
}

/// A CTAPHID channel on the key.
fn open_channel(socket: &std::net::UdpSocket, key: std::net::SocketAddr) -> u32 {
    let init = ctap_over_udp(
        socket,
        key,
        ctap::ctaphid::BROADCAST_CID,
        ctap::ctaphid::cmd::INIT,
        &[7u8; 8],
    );
    u32::from_be_bytes(init[8..12].try_into().unwrap())
}

/// getInfo's "uv" option, as the key answers it now on channel `cid`.
fn uv_option(socket: &std::net::UdpSocket, key: std::net::SocketAddr, cid: u32) -> Option<bool> {
    let answer = ctap_over_udp(socket, key, cid, ctap::ctaphid::cmd::CBOR, &[0x04]);
    assert_eq!(answer[0], 0, "getInfo failed");
    let info = ctap::cbor::decode(&answer[1..]).unwrap();
    let options = ctap::cbor::map_get_int(info.as_map().unwrap(), 4).unwrap();
    ctap::cbor::map_get_text(options.as_map().unwrap(), "uv").map(|v| v.as_bool().unwrap())
}

/// The security key serves the active profile and follows switches, keeping the client's
/// channel: getInfo offers user verification for a profile with a PIN (the request dialog
/// checks it) and not for a keychain-only one.
#[test]
fn the_security_key_follows_the_active_profile() {
    use super::key::{Front, SecurityKey};

    let f = fixture();
    f.core
        .create_profile(new_profile("Ana", Some("24682468")))
        .unwrap();
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let listen = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let key = SecurityKey::start(
        f.core.clone(),
        &Front::Udp {
            listen,
            reply_to: client.local_addr().unwrap(),
        },
    )
    .unwrap();
    assert!(
        f.core
            .settings()
            .unwrap()
            .security_key
            .unwrap()
            .starts_with("udp://")
    );
    let cid = open_channel(&client, listen);
    assert_eq!(uv_option(&client, listen, cid), Some(true));
    // uvRetries is the profile's PIN count: wrong PINs in the request dialog (which checks
    // them with `verify_pin`) cost a client's built-in UV attempts too.
    let uv_retries = || {
        // clientPIN {pinUvAuthProtocol: 2, subCommand: getUVRetries}
        let answer = ctap_over_udp(
            &client,
            listen,
            cid,
            ctap::ctaphid::cmd::CBOR,
            &[0x06, 0xa2, 0x01, 0x02, 0x02, 0x07],
        );
        assert_eq!(answer[0], 0, "getUVRetries failed");
        let reply = ctap::cbor::decode(&answer[1..]).unwrap();
        let retries = ctap::cbor::map_get_int(reply.as_map().unwrap(), 5).unwrap();
        i128::from(retries.as_integer().unwrap())
    };
    assert_eq!(uv_retries(), 10);
    for _ in 0..2 {
        assert_eq!(
            kind(&f.core.verify_pin("13571357".into()).unwrap_err()),
            "wrong-pin"
        );
    }
    assert_eq!(uv_retries(), 8);
    f.core.verify_pin("24682468".into()).unwrap();
    assert_eq!(uv_retries(), 10);

    f.core.create_profile(new_profile("Ben", None)).unwrap();
    // The engine is rebuilt within a loop tick of the switch.
    let mut uv = Some(true);
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        // The same channel: a profile switch does not cut off a client that opened the key.
        uv = uv_option(&client, listen, cid);
        if uv != Some(true) {
            break;
        }
    }
    assert_ne!(
        uv,
        Some(true),
        "a keychain-only profile cannot verify the user"
    );
    key.stop();
}

/// The security key follows its setting; where `/dev/uhid` cannot be opened (this test's
/// machine has none, or no permission) the setting is kept, the key stays off, and the error
/// says what to do.
#[test]
fn the_security_key_setting_reports_a_missing_uhid_plainly() {
    let f = fixture();
    if std::env::var_os(key::SECURITY_KEY_ENV).is_some()
        || std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/uhid")
            .is_ok()
    {
        // A machine where the key could start (or is forced by the environment): the error
        // path cannot be shown here; the VM test covers the uhid key itself.
        return;
    }
    let mut settings = f.core.user_settings().unwrap();
    settings.security_key = true;
    f.core.save_settings(settings).unwrap();
    let error = f.core.apply_security_key().unwrap_err();
    assert_eq!(kind(&error), "unavailable");
    assert!(f.core.user_settings().unwrap().security_key);
    assert_eq!(f.core.settings().unwrap().security_key, None);
    let mut settings = f.core.user_settings().unwrap();
    settings.security_key = false;
    f.core.save_settings(settings).unwrap();
    f.core.apply_security_key().unwrap();
}

/// Runs one CTAP request on an in-memory phone engine, approving with verification.
fn on_phone(
    phone: &mut ctap::Authenticator<ctap::MemoryStore, ManualClock, crate::system::SharedRng>,
    request: &[u8],
) -> Vec<u8> {
    let now = ctap::Clock::now(phone.clock());
    match phone.process(request, now) {
        ctap::Step::Done(response) => response,
        ctap::Step::NeedUser(pending) => {
            match phone.resume(pending, PromptOutcome::verified(), now) {
                ctap::Step::Done(response) => response,
                ctap::Step::NeedUser(_) => panic!("the phone asked twice"),
            }
        }
    }
}

/// A site's registration answered on the phone through the dialog joins the list as a phone
/// passkey (verified against the site's clientDataHash); a later sign-in through the phone
/// marks it used; a reply that does not verify is not recorded.
#[test]
fn passkeys_a_site_made_on_the_phone_through_the_dialog_are_listed() {
    use crate::webauthn::{self, ClientData};

    let f = fixture();
    f.core.create_profile(new_profile("Ana", None)).unwrap();
    let mut phone = ctap::Authenticator::new(
        ctap::MemoryStore::new(),
        ManualClock::new(),
        testing::seeded_rng(9),
        crate::phone::virtual_phone::engine_config(),
    )
    .unwrap();
    let create = ClientData::new("webauthn.create", &[1; 32], "https://example.net");
    let request = webauthn::make_credential_request(
        &create.hash,
        "example.net",
        b"ana-id",
        "ana@example.net",
    )
    .unwrap();
    let response = on_phone(&mut phone, &request);

    // A reply checked against another request's clientDataHash is not recorded.
    let other = ClientData::new("webauthn.create", &[2; 32], "https://example.net");
    let forged =
        webauthn::make_credential_request(&other.hash, "example.net", b"ana-id", "ana@example.net")
            .unwrap();
    f.core.remember_forwarded(&forged, &response);
    assert!(f.core.passkeys().unwrap().is_empty());

    f.core.remember_forwarded(&request, &response);
    let list = f.core.passkeys().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].location, PasskeyLocation::Phone);
    assert_eq!(list[0].rp_id, "example.net");
    assert_eq!(list[0].user_name.as_deref(), Some("ana@example.net"));
    assert_eq!(list[0].last_used, None);

    let get = ClientData::new("webauthn.get", &[3; 32], "https://example.net");
    let id = hex::decode(&list[0].id).unwrap();
    let request = webauthn::get_assertion_request(&get.hash, "example.net", &[id]).unwrap();
    let response = on_phone(&mut phone, &request);
    f.core.remember_forwarded(&request, &response);
    assert!(f.core.passkeys().unwrap()[0].last_used.is_some());
}

#[test]
fn without_any_profile_a_request_is_refused_without_a_dialog() {
    let f = fixture();
    let seen = watch(&f.core);
    let mut prompt = BrokerPrompt::new(f.core.clone());
    let request = prompt_request(PromptReason::Register, false, &[]);
    assert_eq!(prompt.poll(&request, true), Some(PromptOutcome::Denied));
    assert_eq!(f.core.current_request(), None);
    assert!(seen.lock().unwrap().is_empty());
}

/// What the window does while nobody touches it (`ui/src/main.ts`): every 15 s it asks for the
/// profile list and the active profile's passkeys.
fn poll_like_the_window(f: &Fixture, seconds: u64) {
    for _ in 0..seconds / 15 {
        f.clock.advance(Duration::from_secs(15));
        let _ = f.core.profiles().unwrap();
        let _ = f.core.passkeys();
    }
}

#[test]
fn the_window_polling_does_not_keep_a_profile_unlocked() {
    let f = fixture();
    f.core
        .create_profile(new_profile("Ana", Some("246813")))
        .unwrap();
    let (_, vault) = f.core.active_vault().unwrap();
    { &*vault }
        .insert(credential(1, "example.com", "ana@example.com"))
        .unwrap();
    drop(vault);
    // 600 s of policy idle time: unlocked at 600 s of polling, locked at the next poll.
    poll_like_the_window(&f, 600);
    let ana = &f.core.profiles().unwrap()[0];
    assert_eq!(ana.state, LockState::Unlocked);
    assert_eq!(ana.auto_lock_at, Some(1_700_000_600));
    poll_like_the_window(&f, 15);
    let ana = &f.core.profiles().unwrap()[0];
    assert_eq!(
        (ana.state, ana.passkey_count, ana.auto_lock_at),
        (LockState::Locked, None, None)
    );
    assert_eq!(kind(&f.core.passkeys().unwrap_err()), "locked");

    // What the person does counts: the dialog's PIN check restarts the timer.
    f.core.unlock_profile("Ana", "246813".to_owned()).unwrap();
    poll_like_the_window(&f, 450);
    f.core.verify_pin("246813".to_owned()).unwrap();
    poll_like_the_window(&f, 450);
    assert_eq!(f.core.profiles().unwrap()[0].state, LockState::Unlocked);
    assert_eq!(f.core.passkeys().unwrap().len(), 1);
    poll_like_the_window(&f, 165);
    assert_eq!(f.core.profiles().unwrap()[0].state, LockState::Locked);
    // A PIN check after the lock unlocks it again, for the request it verifies.
    f.core.verify_pin("246813".to_owned()).unwrap();
    assert_eq!(f.core.profiles().unwrap()[0].state, LockState::Unlocked);
}

#[test]
fn no_key_outlives_the_lock_or_the_app() {
    let f = fixture();
    f.core
        .create_profile(new_profile("Ana", Some("246813")))
        .unwrap();
    f.core.create_profile(new_profile("Kim", None)).unwrap();
    f.core.switch_profile("Ana").unwrap();
    // Unlocked: the keychain holds the PIN-wrapped key and Kim's key, and each vault's
    // rollback anchor (a keyed digest of its files, no key), nothing more.
    let accounts = f.keychain.accounts();
    assert_eq!(
        accounts.iter().filter(|a| a.starts_with("vault:")).count(),
        2,
        "{accounts:?}"
    );
    assert!(
        accounts
            .iter()
            .all(|a| a.starts_with("vault:") || a.starts_with("anchor:")),
        "{accounts:?}"
    );
    assert_eq!(f.core.profiles().unwrap()[0].state, LockState::Unlocked);

    // An old version's unlock session is removed when the app starts.
    let ana_id = f
        .keychain
        .accounts()
        .into_iter()
        .filter_map(|a| a.strip_prefix("vault:").map(str::to_owned))
        .find(|id| {
            f.keychain
                .get(&format!("vault:{id}"))
                .unwrap()
                .is_some_and(|v| v.len() > 32)
        })
        .unwrap();
    let legacy = format!("session:{ana_id}");
    f.keychain.set(&legacy, &[7; 40]).unwrap();
    let again = AppCore::new(setup(f._dir.path(), f.keychain.clone(), &f.clock)).unwrap();
    assert!(!f.keychain.accounts().contains(&legacy));
    let ana = &again.profiles().unwrap()[0];
    assert_eq!((ana.name.as_str(), ana.state), ("Ana", LockState::Locked));

    // Exit locks what was open.
    f.core.shutdown();
    let profiles = f.core.profiles().unwrap();
    assert_eq!(profiles[0].state, LockState::Locked);
    assert_eq!(
        profiles[1].state,
        LockState::Unlocked,
        "a keychain profile has no lock"
    );
    assert_eq!(kind(&f.core.passkeys().unwrap_err()), "locked");
}

/// A site cancels a forward to the phone and asks again at once: the cancelled ceremony's last
/// event ("cancelled") can arrive after the new one started. It must end its own flow, not
/// the new one's, or the window answers "busy" to every phone flow until it restarts.
#[test]
fn a_late_event_of_a_cancelled_forward_does_not_leave_the_window_busy() {
    use crate::phone::forward::ForwardEvent;
    use tokio::sync::Notify;

    let f = fixture();
    let report = key::forward_report(&f.core);
    let started = || ForwardEvent::Started {
        cancel: Arc::new(Notify::new()),
    };
    report(1, started());
    report(2, started());
    report(1, ForwardEvent::Cancelled);
    report(2, ForwardEvent::Failed(PhoneFailure::Cancelled));
    assert!(
        f.core.flows.add(99, Arc::new(Notify::new())).is_ok(),
        "a finished forward still counts as running"
    );
}

/// The window's Stop: network checks waiting on a relay that never answers end at once when
/// cancelled, well before their step limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_checks_stop_when_cancelled() {
    let f = fixture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and says nothing: the upgrade waits.
    let stall = tokio::spawn(async move {
        let (_stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(120)).await;
    });
    let mut settings = f.core.user_settings().unwrap();
    settings.relay = Some(format!("ws://{addr}"));
    settings.air = Some("udp://127.0.0.1:9".into());
    f.core.save_settings(settings).unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let core = Arc::clone(&f.core);
    let run = tokio::spawn(async move {
        core.network_checks(
            Duration::from_secs(60),
            true,
            Arc::new(move |_: &str, step| {
                let _ = started_tx.send(step);
            }),
        )
        .await
    });
    // Wait for the upgrade step to start, then stop.
    let waited = tokio::task::spawn_blocking(move || {
        std::iter::from_fn(|| started_rx.recv_timeout(Duration::from_secs(10)).ok())
            .any(|step| step == crate::diagnostics::NetStep::Upgrade)
    })
    .await
    .unwrap();
    assert!(waited, "the upgrade step never started");
    f.core.cancel_network_checks();
    let result = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("cancel did not stop the checks")
        .unwrap();
    assert_eq!(result, None);
    stall.abort();
}
