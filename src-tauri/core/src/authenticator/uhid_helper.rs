//! The bridge without raw `/dev/uhid` for users. `/dev/uhid` can create any HID device (a
//! keyboard that types into every session included), so no user should be able to open it.
//! A small privileged helper, started per connection by systemd socket activation
//! (`passbridge setup-bridge` installs the units), opens it instead: it creates the one FIDO
//! device, named after the connecting user's uid, and relays 64-byte reports between that
//! device and the user's Passbridge until the connection closes, which removes the device.
//!
//! Why relay rather than hand the file descriptor over: on a uhid descriptor, `UHID_DESTROY`
//! followed by `UHID_CREATE2` makes a new device with any report descriptor, so a handed-over
//! descriptor would be the same hole as `/dev/uhid` itself. The relay's protocol carries
//! nothing but reports: there is no message in it that could create anything.
//!
//! Protocol, on a Unix stream socket: each direction is a sequence of 64-byte HID reports
//! (OUT reports from the kernel to Passbridge, IN reports back). Nothing else.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use ctap::uhid::{EVENT_SIZE, Event, create_event, decode, destroy_event, input_event};

use super::hid_loop::ReportPipe;
use super::seat::SeatGate;
use super::uhid::{UhidError, open_uhid};

/// Where the helper's socket lives (`passbridge-uhid.socket`).
pub const HELPER_SOCKET: &str = "/run/passbridge-uhid.sock";

/// The uniq (serial) string of the device made for `uid`: which user's key it is, in
/// `udevadm info` and the kernel log.
pub fn device_uniq(uid: u32) -> String {
    format!("passbridge-uid-{uid}")
}

/// The privileged side of one connection: creates the FIDO key on `uhid_path` for the user
/// `uid` and relays reports until `from_client` ends. The device is removed on return.
///
/// # Errors
/// The device could not be created or written.
pub fn serve_client(
    mut from_client: impl Read,
    to_client: impl Write + Send + 'static,
    uid: u32,
    uhid_path: &Path,
) -> Result<(), UhidError> {
    let mut device = open_uhid(uhid_path)?;
    device.write_all(&create_event(&device_uniq(uid)))?;
    tracing::info!(target: "passbridge::audit", uid, "virtual FIDO key created for a user");
    let done = Arc::new(AtomicBool::new(false));
    let mut reader = device.try_clone()?;
    let mut replier = device.try_clone()?;
    let relay = {
        let done = Arc::clone(&done);
        let mut to_client = to_client;
        std::thread::Builder::new()
            .name("uhid-relay".to_owned())
            .spawn(move || {
                let mut buf = vec![0u8; EVENT_SIZE];
                while !done.load(Ordering::SeqCst) {
                    let n = match reader.read(&mut buf) {
                        Ok(n) => n,
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => return,
                    };
                    let (event, reply) = decode(buf.get(..n).unwrap_or_default());
                    if let Some(reply) = reply {
                        let _ = replier.write_all(&reply);
                    }
                    if let Some(Event::Output(report)) = event
                        && to_client.write_all(&report).is_err()
                    {
                        return;
                    }
                }
            })?
    };
    let mut report = [0u8; 64];
    let result = loop {
        match from_client.read_exact(&mut report) {
            Ok(()) => {
                if let Err(error) = device.write_all(&input_event(&report)) {
                    break Err(UhidError::Io(error));
                }
            }
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => break Ok(()),
            Err(error) => break Err(UhidError::Io(error)),
        }
    };
    done.store(true, Ordering::SeqCst);
    // Destroying the device wakes the relay with the kernel's stop event.
    let _ = device.write_all(&destroy_event());
    drop(relay);
    tracing::info!(target: "passbridge::audit", uid, "virtual FIDO key removed");
    result
}

/// The user's side: the key as the helper relays it.
pub struct HelperKey {
    stream: UnixStream,
    reports: Receiver<[u8; 64]>,
    gate: Box<dyn SeatGate>,
}

impl std::fmt::Debug for HelperKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelperKey").finish_non_exhaustive()
    }
}

impl HelperKey {
    /// Connects to the helper at `socket`; the helper creates the key.
    ///
    /// # Errors
    /// [`UhidError::Helper`] when the helper cannot be reached.
    pub fn connect(socket: &Path, gate: Box<dyn SeatGate>) -> Result<Self, UhidError> {
        let stream = UnixStream::connect(socket).map_err(UhidError::Helper)?;
        let mut reader = stream.try_clone()?;
        let (tx, reports) = mpsc::channel();
        std::thread::Builder::new()
            .name("uhid-helper-reader".to_owned())
            .spawn(move || {
                let mut report = [0u8; 64];
                while reader.read_exact(&mut report).is_ok() {
                    if tx.send(report).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Self {
            stream,
            reports,
            gate,
        })
    }
}

impl ReportPipe for HelperKey {
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<[u8; 64]>> {
        match self.reports.recv_timeout(timeout) {
            Ok(report) => Ok(Some(report)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the uhid helper closed the virtual key",
            )),
        }
    }

    fn send(&mut self, report: &[u8; 64]) -> io::Result<()> {
        self.stream.write_all(report)
    }

    fn owner_active(&mut self) -> bool {
        self.gate.owner_active()
    }
}

/// The uid of the process at the other end of `stream` (`SO_PEERCRED`).
///
/// # Errors
/// The socket has no peer credentials (not a Unix socket).
pub fn peer_uid(stream: &impl std::os::fd::AsFd) -> io::Result<u32> {
    let cred = rustix::net::sockopt::socket_peercred(stream)?;
    Ok(cred.uid.as_raw())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With no uhid to open, the helper refuses before reading anything from the client.
    #[test]
    fn without_uhid_the_helper_refuses_and_says_why() {
        let (client, server) = UnixStream::pair().unwrap();
        let writer = server.try_clone().unwrap();
        let error = serve_client(server, writer, 1000, Path::new("/nonexistent/uhid")).unwrap_err();
        assert!(matches!(error, UhidError::Missing), "{error:?}");
        drop(client);
    }

    #[test]
    fn the_peer_of_a_socket_pair_is_this_process_user() {
        let (a, _b) = UnixStream::pair().unwrap();
        let me = rustix::process::getuid().as_raw();
        assert_eq!(peer_uid(&a).unwrap(), me);
        assert_eq!(device_uniq(1000), "passbridge-uid-1000");
    }

    #[test]
    fn a_missing_helper_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let error = HelperKey::connect(
            &dir.path().join("none.sock"),
            Box::new(super::super::seat::Unchecked),
        )
        .unwrap_err();
        assert!(matches!(error, UhidError::Helper(_)), "{error:?}");
    }
}
