//! CTAPHID over UDP (the SoloKeys simulation convention, which python-fido2's and libfido2's
//! test set-ups speak): every 64-byte datagram to the listen address is one OUT report; every
//! IN report (keepalives included) goes to the reply address as one 64-byte datagram. The
//! 64-byte "magic reboot" datagram is a simulated power cycle on this transport only (see
//! [`ctap::device::HidDevice::allow_simulation_reboot`]; the uhid key ignores it).
//!
//! Loopback only: this transport has no peer authentication, so it must never face a network.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use ctap::{Config, CredentialStore};

use super::hid_loop::{self, ReportPipe};
use super::prompt::PromptSource;
use crate::system::Env;

/// Why the UDP authenticator stopped.
#[derive(Debug, thiserror::Error)]
pub enum UdpError {
    /// A non-loopback address was given.
    #[error(
        "{0} is not a loopback address; the UDP transport has no authentication and only serves local test clients"
    )]
    NotLoopback(SocketAddr),
    /// The socket could not be bound or used.
    #[error("UDP socket {addr}: {source}")]
    Socket {
        /// Address involved.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The credential store could not be opened.
    #[error("the credential store failed: {0}")]
    Store(#[source] ctap::StoreError),
}

/// Serves CTAPHID on `pipe` (see [`UdpPipe::bind`]) from `store` until `stop` is set.
///
/// # Errors
/// The store failing at start-up, the socket failing later.
pub fn serve<S: CredentialStore>(
    mut pipe: UdpPipe,
    store: S,
    attestation: ctap::Attestation,
    prompt: &mut dyn PromptSource,
    stop: &Arc<AtomicBool>,
    env: &Env,
) -> Result<(), UdpError> {
    let config = Config {
        attestation,
        ..Config::default()
    };
    let mut device = hid_loop::device(store, config, env).map_err(UdpError::Store)?;
    tracing::info!(listen = %pipe.listen, reply_to = %pipe.reply_to, "UDP authenticator up");
    let listen = pipe.listen;
    hid_loop::serve(&mut device, &mut pipe, prompt, None, stop).map_err(|source| UdpError::Socket {
        addr: listen,
        source,
    })
}

/// Reports as datagrams: OUT from anyone on loopback, IN to the reply address.
#[derive(Debug)]
pub struct UdpPipe {
    socket: UdpSocket,
    listen: SocketAddr,
    reply_to: SocketAddr,
}

impl UdpPipe {
    /// Where OUT reports arrive.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// Where IN reports go.
    pub fn reply_to(&self) -> SocketAddr {
        self.reply_to
    }

    /// Binds `listen`; replies go to `reply_to`. Both must be loopback.
    ///
    /// # Errors
    /// [`UdpError::NotLoopback`], [`UdpError::Socket`].
    pub fn bind(listen: SocketAddr, reply_to: SocketAddr) -> Result<Self, UdpError> {
        for addr in [listen, reply_to] {
            if !addr.ip().is_loopback() {
                return Err(UdpError::NotLoopback(addr));
            }
        }
        let socket = UdpSocket::bind(listen).map_err(|source| UdpError::Socket {
            addr: listen,
            source,
        })?;
        Ok(Self {
            socket,
            listen,
            reply_to,
        })
    }
}

impl ReportPipe for UdpPipe {
    // The simulation transport test suites (python-fido2's device tests) reboot the key with.
    fn simulation_reboot(&self) -> bool {
        true
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<[u8; 64]>> {
        self.socket.set_read_timeout(Some(timeout))?;
        let mut buf = [0u8; 1024];
        match self.socket.recv_from(&mut buf) {
            Ok((len, from)) => match buf.get(..len).and_then(|b| <[u8; 64]>::try_from(b).ok()) {
                Some(report) => Ok(Some(report)),
                None => {
                    tracing::warn!(%from, len, listen = %self.listen, "ignoring a datagram that is not one 64-byte report");
                    Ok(None)
                }
            },
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            // A previous reply bounced (nobody listening on the reply port): not our problem.
            Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn send(&mut self, report: &[u8; 64]) -> io::Result<()> {
        match self.socket.send_to(report, self.reply_to) {
            Ok(_) => Ok(()),
            // Nobody listens on the reply port (the client went away): drop the report.
            Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
            Err(error) => Err(error),
        }
    }
}
