//! Whose turn it is at the seat. After a fast user switch the first user's Passbridge keeps
//! running, and the key's hidraw node follows the seat (udev's `uaccess` gives it to whoever
//! is active), so the second user's browser could reach the first user's passkeys. The uhid
//! key therefore answers only while the login session that runs Passbridge is the active one
//! on its seat, as logind tells (`org.freedesktop.login1`, the `Active` property of our
//! session); otherwise every request is refused and nothing is shown
//! ([`ctap::device::HidDevice::set_refusing`]).
//!
//! Where there is no logind (no system bus, a container), there is no seat to switch: the key
//! answers, and the start-up log says why. Once logind has answered, a failed query refuses.

use std::time::{Duration, Instant};

use crate::system::SharedClock;

/// How long one answer from logind is trusted: a switch is noticed within this.
const RECHECK: Duration = Duration::from_millis(500);

/// Whether the key may answer now.
pub trait SeatGate: Send {
    /// True while Passbridge's owner is the one at the seat.
    fn owner_active(&mut self) -> bool;
}

/// No seat to check (the UDP test transport, or no logind): always answers.
#[derive(Debug, Default, Clone, Copy)]
pub struct Unchecked;

impl SeatGate for Unchecked {
    fn owner_active(&mut self) -> bool {
        true
    }
}

/// Why the session could not be found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeatError {
    /// No system bus, or logind is not on it.
    #[error("cannot reach logind on the system bus")]
    NoLogind(#[source] zbus::Error),
    /// logind does not know this process's session.
    #[error("logind knows no login session for this process")]
    NoSession(#[source] zbus::Error),
}

/// What logind is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// Our session: its `Active` property.
    Session,
    /// Our user, when this process is in no session (a user service): its `State` is
    /// "active" only while one of its sessions is the active one on a seat.
    User,
}

/// The owner's session (or user) as logind sees it.
pub struct Logind {
    session: zbus::blocking::Proxy<'static>,
    asked: Asked,
    clock: SharedClock,
    checked: Option<(Instant, bool)>,
}

impl std::fmt::Debug for Logind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logind")
            .field("session", &self.session.path().as_str())
            .finish_non_exhaustive()
    }
}

const LOGIND: &str = "org.freedesktop.login1";

impl Logind {
    /// This process's session on the system bus (`DBUS_SYSTEM_BUS_ADDRESS` if set): the one
    /// `XDG_SESSION_ID` names, else the one logind assigns this process to.
    ///
    /// # Errors
    /// [`SeatError`].
    pub fn connect(clock: SharedClock) -> Result<Self, SeatError> {
        let bus = zbus::blocking::Connection::system().map_err(SeatError::NoLogind)?;
        let session = std::env::var("XDG_SESSION_ID")
            .ok()
            .filter(|id| !id.is_empty());
        Self::on(bus, session.as_deref(), clock)
    }

    /// The session `session_id` (or, without one, this process's; or, if logind puts this
    /// process in no session, this user) as the logind on `bus` knows it.
    ///
    /// # Errors
    /// [`SeatError`].
    pub fn on(
        bus: zbus::blocking::Connection,
        session_id: Option<&str>,
        clock: SharedClock,
    ) -> Result<Self, SeatError> {
        let manager = zbus::blocking::Proxy::new(
            &bus,
            LOGIND,
            "/org/freedesktop/login1",
            "org.freedesktop.login1.Manager",
        )
        .map_err(SeatError::NoLogind)?;
        let by_session: Result<zbus::zvariant::OwnedObjectPath, zbus::Error> = match session_id {
            Some(id) => manager.call("GetSession", &(id,)),
            None => manager.call("GetSessionByPID", &(std::process::id(),)),
        };
        let (path, asked) = match by_session {
            Ok(path) => (path, Asked::Session),
            Err(zbus::Error::MethodError(..)) if session_id.is_none() => {
                let uid = rustix::process::getuid().as_raw();
                let path = manager
                    .call("GetUser", &(uid,))
                    .map_err(SeatError::NoSession)?;
                (path, Asked::User)
            }
            Err(error @ zbus::Error::MethodError(..)) => return Err(SeatError::NoSession(error)),
            Err(other) => return Err(SeatError::NoLogind(other)),
        };
        let interface = match asked {
            Asked::Session => "org.freedesktop.login1.Session",
            Asked::User => "org.freedesktop.login1.User",
        };
        // Asked afresh each time: a cached property would lag behind a switch.
        let session = zbus::blocking::proxy::Builder::new(&bus)
            .destination(LOGIND)
            .and_then(|builder| builder.path(path))
            .and_then(|builder| builder.interface(interface))
            .map(|builder| builder.cache_properties(zbus::proxy::CacheProperties::No))
            .and_then(|builder| builder.build())
            .map_err(SeatError::NoLogind)?;
        Ok(Self {
            session,
            asked,
            clock,
            checked: None,
        })
    }

    /// Asks logind now.
    ///
    /// # Errors
    /// The query failed.
    pub fn active_now(&self) -> Result<bool, zbus::Error> {
        match self.asked {
            Asked::Session => self.session.get_property::<bool>("Active"),
            Asked::User => Ok(self.session.get_property::<String>("State")? == "active"),
        }
    }
}

impl SeatGate for Logind {
    fn owner_active(&mut self) -> bool {
        let now = self.clock.now();
        if let Some((at, active)) = self.checked
            && now.saturating_duration_since(at) < RECHECK
        {
            return active;
        }
        let active = match self.active_now() {
            Ok(active) => active,
            Err(error) => {
                tracing::warn!(%error, "cannot ask logind whether this session is active; refusing");
                false
            }
        };
        if self.checked.is_none_or(|(_, was)| was != active) {
            tracing::info!(target: "passbridge::audit", active,
                "the security key answers only while this login session is the active one");
        }
        self.checked = Some((now, active));
        active
    }
}

/// The gate for the uhid key: logind's view of this session, or [`Unchecked`] where there is
/// no logind to ask.
pub fn for_uhid(clock: SharedClock) -> Box<dyn SeatGate> {
    match Logind::connect(clock) {
        Ok(logind) => Box::new(logind),
        Err(error) => {
            tracing::warn!(%error,
                "no seat to check: the security key answers whoever can open it");
            Box::new(Unchecked)
        }
    }
}
