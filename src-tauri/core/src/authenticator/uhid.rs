//! A virtual FIDO security key through Linux's `/dev/uhid`: the kernel creates a HID device
//! (and a `/dev/hidrawN` for it) with the FIDO report descriptor, so browsers, OpenSSH,
//! libfido2 and every other FIDO client find Passbridge as if it were a USB key.
//!
//! The uhid ABI is a stream of fixed-size records read and written with plain `read`/`write`
//! on the character device, so this needs no `unsafe` and no bindings; the codec is the
//! `ctap` crate's pure [`ctap::uhid`] (fuzzed there), this module only does the I/O.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use super::hid_loop::ReportPipe;
use super::seat::SeatGate;

/// Where the kernel's uhid device lives.
pub const UHID_PATH: &str = "/dev/uhid";
pub use ctap::uhid::{DEVICE_NAME, PRODUCT_ID, REPORT_DESCRIPTOR, VENDOR_ID};
use ctap::uhid::{EVENT_SIZE, Event, create_event, decode, input_event};
/// Why the virtual key could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UhidError {
    /// `/dev/uhid` does not exist: the kernel module is not loaded.
    #[error("{UHID_PATH} does not exist (the uhid kernel module is not loaded)")]
    Missing,
    /// No permission to open `/dev/uhid` (the one-time set-up has not been done).
    #[error("no permission to open {UHID_PATH}")]
    Permission,
    /// Another I/O failure.
    #[error("{UHID_PATH}: {0}")]
    Io(#[from] io::Error),
    /// The privileged helper (`passbridge-uhid.socket`) could not be reached.
    #[error("cannot reach the uhid helper at {path}: {source}", path = super::uhid_helper::HELPER_SOCKET, source = .0)]
    Helper(io::Error),
}

/// Opens `/dev/uhid` (or `path`) for reading and writing.
///
/// # Errors
/// [`UhidError::Missing`], [`UhidError::Permission`], [`UhidError::Io`].
pub fn open_uhid(path: &Path) -> Result<File, UhidError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => UhidError::Missing,
            io::ErrorKind::PermissionDenied => UhidError::Permission,
            _ => UhidError::Io(error),
        })
}

/// The virtual key the usual way: through the privileged helper where `setup-bridge` installed
/// it (its socket exists), else directly on `/dev/uhid` (root, or an older set-up). `gate`
/// makes the seat check for whichever key opens.
///
/// # Errors
/// [`UhidError`].
pub fn open_key(
    uniq: &str,
    gate: &dyn Fn() -> Box<dyn SeatGate>,
) -> Result<Box<dyn ReportPipe + Send>, UhidError> {
    open_key_at(
        Path::new(super::uhid_helper::HELPER_SOCKET),
        Path::new(UHID_PATH),
        uniq,
        gate,
    )
}

/// [`open_key`] with the helper's socket and the uhid device at other paths (tests, the
/// command line's hidden options).
///
/// # Errors
/// [`UhidError`].
pub fn open_key_at(
    helper: &Path,
    uhid: &Path,
    uniq: &str,
    gate: &dyn Fn() -> Box<dyn SeatGate>,
) -> Result<Box<dyn ReportPipe + Send>, UhidError> {
    if !helper.exists() {
        return Ok(Box::new(UhidKey::create(uhid, uniq, gate())?));
    }
    match super::uhid_helper::HelperKey::connect(helper, gate()) {
        Ok(key) => Ok(Box::new(key)),
        // A socket file nobody listens on (a helper that is gone): /dev/uhid may still work
        // (root); if not, the helper's failure is the one to report.
        Err(UhidError::Helper(error)) if error.kind() == io::ErrorKind::ConnectionRefused => {
            match UhidKey::create(uhid, uniq, gate()) {
                Ok(key) => Ok(Box::new(key)),
                Err(_) => Err(UhidError::Helper(error)),
            }
        }
        Err(error) => Err(error),
    }
}

/// The virtual key: created on [`UhidKey::create`], destroyed on drop.
pub struct UhidKey {
    file: File,
    events: Receiver<Event>,
    gate: Box<dyn SeatGate>,
}

impl std::fmt::Debug for UhidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UhidKey").finish_non_exhaustive()
    }
}

impl UhidKey {
    /// Creates the device at `path` (normally [`UHID_PATH`]); `uniq` is its serial string;
    /// `gate` says when it may answer (normally [`super::seat::for_uhid`]).
    ///
    /// # Errors
    /// [`UhidError`].
    pub fn create(path: &Path, uniq: &str, gate: Box<dyn SeatGate>) -> Result<Self, UhidError> {
        let mut file = open_uhid(path)?;
        file.write_all(&create_event(uniq))?;
        let mut reader = file.try_clone()?;
        let mut replier = file.try_clone()?;
        let (tx, events) = mpsc::channel();
        std::thread::Builder::new()
            .name("uhid-reader".to_owned())
            .spawn(move || {
                let mut buf = vec![0u8; EVENT_SIZE];
                loop {
                    let n = match reader.read(&mut buf) {
                        Ok(n) => n,
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                        Err(error) => {
                            tracing::warn!(%error, "uhid: read failed; the virtual key stops");
                            return;
                        }
                    };
                    let (event, reply) = decode(buf.get(..n).unwrap_or_default());
                    if let Some(reply) = reply
                        && let Err(error) = replier.write_all(&reply)
                    {
                        tracing::warn!(%error, "uhid: could not answer a report request");
                    }
                    if let Some(event) = event
                        && tx.send(event).is_err()
                    {
                        return;
                    }
                }
            })?;
        Ok(Self { file, events, gate })
    }
}

impl Drop for UhidKey {
    fn drop(&mut self) {
        let _ = self.file.write_all(&ctap::uhid::destroy_event());
    }
}

impl ReportPipe for UhidKey {
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<[u8; 64]>> {
        match self.events.recv_timeout(timeout) {
            Ok(Event::Output(report)) => Ok(Some(report)),
            Ok(Event::Opened(open)) => {
                tracing::debug!(open, "uhid: a client opened or closed the key");
                Ok(None)
            }
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the kernel closed the virtual key",
            )),
        }
    }

    fn send(&mut self, report: &[u8; 64]) -> io::Result<()> {
        self.file.write_all(&input_event(report))
    }

    fn owner_active(&mut self) -> bool {
        self.gate.owner_active()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_is_told_from_other_failures() {
        let gate = || Box::new(super::super::seat::Unchecked);
        let error = UhidKey::create(Path::new("/nonexistent/uhid"), "x", gate()).unwrap_err();
        assert!(matches!(error, UhidError::Missing));
        let dir = tempfile::tempdir().unwrap();
        let error = UhidKey::create(dir.path(), "x", gate()).unwrap_err();
        assert!(matches!(error, UhidError::Io(_)), "{error:?}");
    }

    /// A socket file left by a helper that is gone: /dev/uhid is tried, and when that fails
    /// too, the helper's failure is what is said.
    #[test]
    fn a_dead_helper_falls_back_and_is_named_when_uhid_fails_too() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("helper.sock");
        drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
        let gate = || -> Box<dyn SeatGate> { Box::new(super::super::seat::Unchecked) };
        let error = open_key_at(&socket, Path::new("/nonexistent/uhid"), "x", &gate)
            .map(|_| ())
            .unwrap_err();
        assert!(matches!(error, UhidError::Helper(_)), "{error:?}");
        // No helper socket at all: straight to /dev/uhid, and its own error.
        let error = open_key_at(
            &dir.path().join("none"),
            Path::new("/nonexistent/uhid"),
            "x",
            &gate,
        )
        .map(|_| ())
        .unwrap_err();
        assert!(matches!(error, UhidError::Missing), "{error:?}");
    }
}
