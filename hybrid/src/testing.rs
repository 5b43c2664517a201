//! Test doubles for the drivers' seams (features `testing` and `io`): an in-memory tunnel relay
//! ([`MemoryRelay`], a [`Connector`]) and an in-memory air ([`MemoryAir`], a scanner and an
//! advertiser), so a whole ceremony — [`run_client`](crate::io::driver::run_client) against
//! [`run_phone`](crate::io::driver::run_phone) — runs without sockets or radios, and a fault
//! (a refusing relay, a relay that cannot be reached) can be set up in one line.
//!
//! The relay pairs `/cable/new/{tunnel id}` with `/cable/connect/{routing id}/{tunnel id}` as
//! a real one does; the linked-phone routes (`/cable/contact`, `/cable/listen`) are not
//! modelled and are refused with 404.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc};

use crate::io::air::{AirError, BleAdvertiser, BleScanner, PHONE_SERVICE_UUID, ServiceData};
use crate::io::tunnel::{CloseReason, Connector, TunnelConn, TunnelError};
use crate::keys::RoutingId;
use crate::tunnel_url::TunnelRequest;

/// The base URL to give sessions ([`TunnelBase::Custom`](crate::tunnel_url::TunnelBase)) so
/// their tunnels reach a [`MemoryRelay`].
pub const MEMORY_RELAY_BASE: &str = "ws://memory.relay.invalid";

/// How a [`MemoryRelay`] treats every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayMode {
    /// Pairs phones and clients.
    Serve,
    /// Answers every upgrade with this HTTP status.
    Refuse(u16),
    /// Cannot be reached at all (connection refused).
    Down,
}

#[derive(Debug)]
struct RelayState {
    /// For the phone's route (`/cable/new`).
    phone_mode: RelayMode,
    /// For the client's routes (`/cable/connect`, `/cable/contact`).
    client_mode: RelayMode,
    routing_id: RoutingId,
    /// Each phone's end of a tunnel no client has joined yet, by tunnel ID (hex, as in URLs).
    waiting: HashMap<String, MemoryTunnel>,
    /// Connections made, by route (`new`, `connect`, …): what a test can assert on.
    requests: Vec<String>,
}

/// An in-memory tunnel relay. Clones share it.
#[derive(Debug, Clone)]
pub struct MemoryRelay {
    state: Arc<Mutex<RelayState>>,
}

impl Default for MemoryRelay {
    fn default() -> Self {
        Self::new(RelayMode::Serve)
    }
}

impl MemoryRelay {
    /// A relay in `mode` for everyone, routing ID `000001`.
    pub fn new(mode: RelayMode) -> Self {
        Self::split(mode, mode)
    }

    /// A relay that serves phones but treats clients as `mode`: a fault the client meets
    /// after the phone is already waiting.
    pub fn for_clients(mode: RelayMode) -> Self {
        Self::split(RelayMode::Serve, mode)
    }

    fn split(phone_mode: RelayMode, client_mode: RelayMode) -> Self {
        Self {
            state: Arc::new(Mutex::new(RelayState {
                phone_mode,
                client_mode,
                routing_id: RoutingId([0, 0, 1]),
                waiting: HashMap::new(),
                requests: Vec::new(),
            })),
        }
    }

    /// The routes requested so far, in order (`"new"`, `"connect"`, …).
    pub fn requests(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|state| state.requests.clone())
            .unwrap_or_default()
    }

    fn open(&self, request: &TunnelRequest) -> Result<MemoryTunnel, TunnelError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| TunnelError::Request("memory relay poisoned".to_owned()))?;
        let path = request.url.strip_prefix(MEMORY_RELAY_BASE).ok_or_else(|| {
            TunnelError::Request(format!("not the memory relay: {}", request.url))
        })?;
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let route = parts.get(1).copied().unwrap_or_default().to_owned();
        let mode = if route == "new" {
            state.phone_mode
        } else {
            state.client_mode
        };
        state.requests.push(route);
        match mode {
            RelayMode::Serve => {}
            RelayMode::Refuse(status) => return Err(TunnelError::Refused(status)),
            RelayMode::Down => {
                return Err(TunnelError::Unreachable(std::io::Error::from(
                    std::io::ErrorKind::ConnectionRefused,
                )));
            }
        }
        let routing = hex_upper(&state.routing_id.0);
        match parts.as_slice() {
            ["cable", "new", tunnel] => {
                let key = tunnel.to_ascii_uppercase();
                if state.waiting.contains_key(&key) {
                    return Err(TunnelError::Refused(409));
                }
                let (phone, client) = MemoryTunnel::pair();
                state.waiting.insert(key, client);
                Ok(MemoryTunnel {
                    routing_id: Some(state.routing_id),
                    ..phone
                })
            }
            ["cable", "connect", rid, tunnel] if rid.eq_ignore_ascii_case(&routing) => state
                .waiting
                .remove(&tunnel.to_ascii_uppercase())
                .ok_or(TunnelError::Refused(404)),
            _ => Err(TunnelError::Refused(404)),
        }
    }
}

impl Connector for MemoryRelay {
    type Conn = MemoryTunnel;

    fn connect(
        &self,
        request: TunnelRequest,
    ) -> impl Future<Output = Result<MemoryTunnel, TunnelError>> + Send + 'static {
        let opened = self.open(&request);
        async move { opened }
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// One end of an in-memory tunnel. Dropping or closing it ends the other end's stream.
#[derive(Debug)]
pub struct MemoryTunnel {
    tx: Option<mpsc::UnboundedSender<Vec<u8>>>,
    rx: mpsc::UnboundedReceiver<Vec<u8>>,
    routing_id: Option<RoutingId>,
}

impl MemoryTunnel {
    /// Two connected ends.
    pub fn pair() -> (Self, Self) {
        let (a_tx, b_rx) = mpsc::unbounded_channel();
        let (b_tx, a_rx) = mpsc::unbounded_channel();
        (
            Self {
                tx: Some(a_tx),
                rx: a_rx,
                routing_id: None,
            },
            Self {
                tx: Some(b_tx),
                rx: b_rx,
                routing_id: None,
            },
        )
    }
}

impl TunnelConn for MemoryTunnel {
    async fn send(&mut self, data: Vec<u8>) -> Result<(), TunnelError> {
        match &self.tx {
            // A send to a closed peer is lost, as a WebSocket write racing a close would be.
            Some(tx) => {
                let _ = tx.send(data);
                Ok(())
            }
            None => Err(TunnelError::Request("the tunnel is closed".to_owned())),
        }
    }

    async fn recv(&mut self) -> Result<Option<Vec<u8>>, TunnelError> {
        Ok(self.rx.recv().await)
    }

    fn close_reason(&self) -> Option<&CloseReason> {
        None
    }

    fn routing_id(&self) -> Option<RoutingId> {
        self.routing_id
    }

    async fn close(&mut self) {
        self.tx = None;
    }
}

/// An in-memory air: every advert a [`MemoryAir::advertiser`] starts reaches every scanner.
#[derive(Debug, Clone)]
pub struct MemoryAir {
    tx: broadcast::Sender<ServiceData>,
}

impl Default for MemoryAir {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(16);
        Self { tx }
    }
}

impl MemoryAir {
    /// A scanner that hears adverts started from now on.
    pub fn scanner(&self) -> MemoryScanner {
        MemoryScanner {
            rx: self.tx.subscribe(),
        }
    }

    /// An advertiser on this air.
    pub fn advertiser(&self) -> MemoryAdvertiser {
        MemoryAdvertiser {
            tx: self.tx.clone(),
        }
    }
}

/// Hears a [`MemoryAir`].
#[derive(Debug)]
pub struct MemoryScanner {
    rx: broadcast::Receiver<ServiceData>,
}

impl BleScanner for MemoryScanner {
    async fn next_advert(&mut self) -> Result<ServiceData, AirError> {
        loop {
            match self.rx.recv().await {
                Ok(advert) => return Ok(advert),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(AirError::Io(std::io::ErrorKind::BrokenPipe.into()));
                }
            }
        }
    }
}

/// Sends on a [`MemoryAir`]: one advert per start (a real phone repeats it; the scanners here
/// never miss one).
#[derive(Debug)]
pub struct MemoryAdvertiser {
    tx: broadcast::Sender<ServiceData>,
}

impl BleAdvertiser for MemoryAdvertiser {
    async fn start(&mut self, payload: [u8; 20]) -> Result<(), AirError> {
        // No scanner yet is no error: the advert is simply not heard.
        let _ = self.tx.send(ServiceData {
            uuid: PHONE_SERVICE_UUID,
            data: payload.to_vec(),
        });
        Ok(())
    }

    fn stop(&mut self) {}
}
