//! The tray icon: where Passbridge lives while its window is closed. Its menu says which
//! profile answers and whether it is locked, and offers open, lock now, switch profile and
//! quit. On Linux Tauri shows it through libayatana-appindicator (a StatusNotifierItem on the
//! session bus), which the desktop's tray host displays.
//!
//! What the menu holds is worked out from the core's profile list by [`TrayModel::of`] and
//! what a click does by [`act`], both without a display; this file's remaining lines only
//! draw the model with Tauri's menu types.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use passbridge_core::app::AppCore;
use passbridge_core::app::types::ProfileView;
use passbridge_core::profile::{LockState, Protection};
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Runtime};

use super::events::PROFILES_EVENT;

/// The tray icon's ID.
pub const TRAY_ID: &str = "passbridge";

/// How long the menu may go unchecked: lock states change by themselves (auto-lock) and the
/// keychain comes and goes, which no call announces.
const RECHECK: Duration = Duration::from_secs(30);

/// Menu item IDs.
mod id {
    /// The inactive first line.
    pub(super) const STATUS: &str = "status";
    pub(super) const OPEN: &str = "open";
    pub(super) const LOCK: &str = "lock";
    pub(super) const QUIT: &str = "quit";
    /// Followed by the profile's name.
    pub(super) const SWITCH: &str = "switch:";
}

/// What the tray menu shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayModel {
    /// The first, inactive line: the active profile and its state.
    pub status: String,
    /// The tooltip.
    pub tooltip: String,
    /// "Lock Ana" (the active profile's name), when it is unlocked and can lock.
    pub lock: Option<String>,
    /// Every profile, and whether it is the active one.
    pub profiles: Vec<(String, bool)>,
    /// When to look again without being told (the earliest auto-lock), Unix seconds.
    pub recheck_at: Option<u64>,
}

impl TrayModel {
    /// The menu for this profile list.
    pub fn of(profiles: &[ProfileView]) -> Self {
        let active = profiles.iter().find(|p| p.active);
        let status = match active {
            None if profiles.is_empty() => "No profile yet".to_owned(),
            None => "No profile chosen".to_owned(),
            Some(p) => format!("{}: {}", p.name, state_words(p.state)),
        };
        let lock = active
            .filter(|p| p.state == LockState::Unlocked && p.protection != Protection::Keychain)
            .map(|p| format!("Lock {}", p.name));
        Self {
            tooltip: format!("Passbridge ({status})"),
            status,
            lock,
            profiles: profiles
                .iter()
                .map(|p| (p.name.clone(), p.active))
                .collect(),
            recheck_at: profiles.iter().filter_map(|p| p.auto_lock_at).min(),
        }
    }
}

fn state_words(state: LockState) -> &'static str {
    match state {
        LockState::Unlocked => "unlocked",
        LockState::Locked => "locked",
        LockState::KeychainUnavailable => "keychain unavailable",
    }
}

/// What the window must do after a menu click.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayAction {
    /// Nothing more.
    None,
    /// Show the window and bring it to the front.
    Open,
    /// End the app.
    Quit,
}

/// Carries out a click on the menu item `item`. Switching to a locked profile opens the
/// window, where its PIN is asked; a failure is logged and opens the window too, where the
/// profile list shows the state.
pub fn act(core: &AppCore, item: &str) -> TrayAction {
    match item {
        id::OPEN => TrayAction::Open,
        id::QUIT => TrayAction::Quit,
        id::LOCK => {
            let active = core
                .profiles()
                .ok()
                .and_then(|list| list.into_iter().find(|p| p.active));
            match active.map(|p| core.lock_profile(&p.name)) {
                Some(Ok(_)) => TrayAction::None,
                Some(Err(error)) => {
                    tracing::warn!(%error, "the tray could not lock the profile");
                    TrayAction::Open
                }
                None => TrayAction::Open,
            }
        }
        other => match other.strip_prefix(id::SWITCH) {
            Some(name) => match core.switch_profile(name) {
                Ok(list) => {
                    let locked = list
                        .iter()
                        .any(|p| p.active && p.state != LockState::Unlocked);
                    if locked {
                        TrayAction::Open
                    } else {
                        TrayAction::None
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "the tray could not switch profiles");
                    TrayAction::Open
                }
            },
            None => TrayAction::None,
        },
    }
}

fn menu<R: Runtime>(app: &AppHandle<R>, model: &TrayModel) -> tauri::Result<Menu<R>> {
    let item =
        |id: &str, text: &str, enabled| MenuItem::with_id(app, id, text, enabled, None::<&str>);
    let menu = Menu::new(app)?;
    menu.append(&item(id::STATUS, &model.status, false)?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&item(id::OPEN, "Open Passbridge", true)?)?;
    if let Some(lock) = &model.lock {
        menu.append(&item(id::LOCK, lock, true)?)?;
    }
    if model.profiles.len() > 1 {
        let switch = Submenu::new(app, "Switch profile", true)?;
        for (name, active) in &model.profiles {
            let item_id = format!("{}{name}", id::SWITCH);
            switch.append(&CheckMenuItem::with_id(
                app,
                item_id,
                name,
                true,
                *active,
                None::<&str>,
            )?)?;
        }
        menu.append(&switch)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&item(id::QUIT, "Quit Passbridge", true)?)?;
    Ok(menu)
}

fn model_now(core: &AppCore) -> TrayModel {
    match core.profiles() {
        Ok(list) => TrayModel::of(&list),
        Err(error) => {
            tracing::warn!(%error, "the tray cannot read the profiles");
            TrayModel::of(&[])
        }
    }
}

/// Puts the icon in the tray and keeps its menu current: redrawn when a call changes the
/// profiles, at the earliest auto-lock, and every half minute otherwise. The window is told
/// too ([`PROFILES_EVENT`]), so a lock from the tray shows there at once.
///
/// # Errors
/// The tray icon could not be created (no tray support in this desktop).
pub fn start<R: Runtime>(
    app: &AppHandle<R>,
    core: &Arc<AppCore>,
    on_action: impl Fn(&AppHandle<R>, TrayAction) + Send + Sync + 'static,
) -> tauri::Result<()> {
    let model = model_now(core);
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip(&model.tooltip)
        .menu(&menu(app, &model)?)
        .show_menu_on_left_click(true);
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let clicked = Arc::clone(core);
    let on_action = Arc::new(on_action);
    builder
        .on_menu_event(move |app, event| {
            let item = event.id().as_ref().to_owned();
            let (core, app, on_action) =
                (Arc::clone(&clicked), app.clone(), Arc::clone(&on_action));
            // Locking and switching reach the keychain: not on the menu's (main) thread.
            let spawned = std::thread::Builder::new()
                .name("tray-click".into())
                .spawn(move || on_action(&app, act(&core, &item)));
            if let Err(error) = spawned {
                tracing::warn!(%error, "cannot act on the tray menu");
            }
        })
        .build(app)?;

    let (tx, rx) = mpsc::channel();
    core.on_change(Box::new(move || {
        let _ = tx.send(());
    }));
    let app = app.clone();
    let core = Arc::clone(core);
    let spawned = std::thread::Builder::new()
        .name("tray".into())
        .spawn(move || {
            let mut shown = model;
            loop {
                // A deadline already past (the profile locks when next used) is no reason to
                // look again every second.
                let now = core.unix_time();
                let wait = shown
                    .recheck_at
                    .filter(|&at| at > now)
                    .map_or(RECHECK, |at| RECHECK.min(Duration::from_secs(at - now + 1)));
                match rx.recv_timeout(wait) {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                while rx.try_recv().is_ok() {}
                let now = model_now(&core);
                if now == shown {
                    continue;
                }
                if let Some(tray) = app.tray_by_id(TRAY_ID) {
                    let drawn = menu(&app, &now).and_then(|m| tray.set_menu(Some(m)));
                    if let Err(error) = drawn.and_then(|()| tray.set_tooltip(Some(&now.tooltip))) {
                        tracing::warn!(%error, "cannot update the tray menu");
                    }
                }
                if let Err(error) = app.emit(PROFILES_EVENT, ()) {
                    tracing::warn!(%error, "cannot tell the window the profiles changed");
                }
                shown = now;
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "the tray menu will not follow profile changes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, state: LockState, protection: Protection, active: bool) -> ProfileView {
        ProfileView {
            name: name.into(),
            state,
            protection,
            passkey_count: None,
            active,
            auto_lock_at: (state == LockState::Unlocked && protection == Protection::KeychainPin)
                .then_some(1_700_000_600),
        }
    }

    #[test]
    fn the_menu_names_the_active_profile_and_offers_to_lock_it() {
        let none = TrayModel::of(&[]);
        assert_eq!(none.status, "No profile yet");
        assert_eq!(none.lock, None);
        let ana = profile("Ana", LockState::Unlocked, Protection::KeychainPin, true);
        let ben = profile("Ben", LockState::Unlocked, Protection::Keychain, false);
        let model = TrayModel::of(&[ana, ben.clone()]);
        assert_eq!(model.status, "Ana: unlocked");
        assert_eq!(model.tooltip, "Passbridge (Ana: unlocked)");
        assert_eq!(model.lock.as_deref(), Some("Lock Ana"));
        assert_eq!(
            model.profiles,
            vec![("Ana".to_owned(), true), ("Ben".to_owned(), false)]
        );
        assert_eq!(model.recheck_at, Some(1_700_000_600));
        let locked = profile("Ana", LockState::Locked, Protection::KeychainPin, true);
        let model = TrayModel::of(&[locked, ben.clone()]);
        assert_eq!((model.status.as_str(), model.lock), ("Ana: locked", None));
        // A profile without a PIN has nothing to lock.
        let ben_active = ProfileView {
            active: true,
            ..ben
        };
        assert_eq!(TrayModel::of(&[ben_active]).lock, None);
    }
}
