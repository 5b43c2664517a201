//! Loopback "air" standing in for BLE: each UDP datagram on 127.0.0.1 is a 2-byte
//! little-endian service UUID (0xFFF9 or 0xFDE2) followed by the service data.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;

/// caBLE service UUIDs.
pub const SERVICE_UUIDS: [u16; 2] = [PHONE_SERVICE_UUID, 0xFDE2];
/// The UUID phones advertise under (FIDO's 16-bit UUID).
pub const PHONE_SERVICE_UUID: u16 = 0xFFF9;

/// Air errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AirError {
    /// `--air` was not `udp://HOST:PORT`.
    #[error("air address must look like udp://127.0.0.1:PORT, got {0:?}")]
    BadAddress(String),
    /// Only loopback addresses are allowed.
    #[error("air address {0} is not a loopback address")]
    NotLoopback(SocketAddr),
    /// A socket failed.
    #[error("air socket: {0}")]
    Io(#[from] std::io::Error),
    /// Bluetooth is missing, off, not permitted, or failed.
    #[error(transparent)]
    Bluetooth(#[from] BluetoothProblem),
}

/// What is wrong with Bluetooth, by kind, so each face can say what to do in its own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BluetoothProblem {
    /// The system's Bluetooth service (BlueZ's bluetoothd, …) cannot be reached.
    #[error("cannot reach the Bluetooth service: {0}")]
    ServiceUnavailable(String),
    /// There is no adapter (`None`), or none by the name asked for.
    #[error("no Bluetooth adapter{}", .0.as_ref().map(|n| format!(" called {n}")).unwrap_or_default())]
    NoAdapter(Option<String>),
    /// The adapter is switched off.
    #[error("Bluetooth is off ({adapter})")]
    PoweredOff {
        /// The adapter's description.
        adapter: String,
    },
    /// Bluetooth was switched off while scanning.
    #[error("Bluetooth was turned off")]
    TurnedOff,
    /// The system refused this program the use of Bluetooth.
    #[error("no permission to use Bluetooth")]
    PermissionDenied,
    /// This system cannot do what was asked (advertising outside Linux).
    #[error("{0}")]
    Unsupported(&'static str),
    /// Another failure: what failed and why.
    #[error("{what}: {cause}")]
    Failed {
        /// What was being done.
        what: &'static str,
        /// The cause, as the Bluetooth stack reported it.
        cause: String,
    },
}

/// Parses `udp://127.0.0.1:PORT` (loopback only).
///
/// # Errors
/// [`AirError::BadAddress`], [`AirError::NotLoopback`].
pub fn parse_air(url: &str) -> Result<SocketAddr, AirError> {
    let addr: SocketAddr = url
        .strip_prefix("udp://")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| AirError::BadAddress(url.to_owned()))?;
    if !addr.ip().is_loopback() {
        return Err(AirError::NotLoopback(addr));
    }
    Ok(addr)
}

/// One received advert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceData {
    /// Service UUID.
    pub uuid: u16,
    /// Service data bytes.
    pub data: Vec<u8>,
}

/// The initiator's scanner seam: the loopback air here, BLE through btleplug on real radios.
pub trait BleScanner {
    /// The next advert under a caBLE UUID. Must be cancel-safe: the driver drops the future
    /// whenever another event arrives first.
    fn next_advert(&mut self) -> impl Future<Output = Result<ServiceData, AirError>> + Send;
}

/// The phone's advertiser seam.
pub trait BleAdvertiser {
    /// Starts (or replaces) the advert: 20 bytes of service data under UUID 0xFFF9.
    fn start(&mut self, payload: [u8; 20]) -> impl Future<Output = Result<(), AirError>> + Send;
    /// Stops advertising (idempotent).
    fn stop(&mut self);
}

/// Scans the loopback air: listens on the UDP address.
#[derive(Debug)]
pub struct UdpScanner {
    socket: UdpSocket,
}

impl UdpScanner {
    /// Binds the air address.
    ///
    /// # Errors
    /// [`AirError::Io`].
    pub async fn bind(addr: SocketAddr) -> Result<Self, AirError> {
        Ok(Self {
            socket: UdpSocket::bind(addr).await?,
        })
    }

    /// The bound address.
    ///
    /// # Errors
    /// [`AirError::Io`].
    pub fn local_addr(&self) -> Result<SocketAddr, AirError> {
        Ok(self.socket.local_addr()?)
    }
}

impl BleScanner for UdpScanner {
    async fn next_advert(&mut self) -> Result<ServiceData, AirError> {
        let mut buf = [0u8; 64];
        loop {
            let n = self.socket.recv(&mut buf).await?;
            let Some(datagram) = buf.get(..n) else {
                continue;
            };
            let (Some(uuid), Some(data)) = (datagram.get(..2), datagram.get(2..)) else {
                continue;
            };
            let uuid = u16::from_le_bytes([
                uuid.first().copied().unwrap_or(0),
                uuid.get(1).copied().unwrap_or(0),
            ]);
            if SERVICE_UUIDS.contains(&uuid) {
                return Ok(ServiceData {
                    uuid,
                    data: data.to_vec(),
                });
            }
        }
    }
}

/// The phone's advertiser on the loopback air: repeats the advert every 100 ms until
/// stopped or dropped.
#[derive(Debug)]
pub struct UdpAdvertiser {
    target: SocketAddr,
    stop: Option<watch::Sender<bool>>,
}

impl UdpAdvertiser {
    /// An advertiser that sends to `target`.
    pub fn new(target: SocketAddr) -> Self {
        Self { target, stop: None }
    }

    /// Starts (or replaces) the advert under `uuid` (phones use 0xFFF9; 0xFDE2 exists too).
    ///
    /// # Errors
    /// [`AirError::Io`].
    pub async fn start_with_uuid(&mut self, uuid: u16, payload: [u8; 20]) -> Result<(), AirError> {
        self.halt();
        let socket = UdpSocket::bind((self.target.ip(), 0)).await?;
        let mut datagram = uuid.to_le_bytes().to_vec();
        datagram.extend_from_slice(&payload);
        let (tx, mut rx) = watch::channel(false);
        let target = self.target;
        tokio::spawn(async move {
            loop {
                let _ = socket.send_to(&datagram, target).await;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = rx.changed() => break,
                }
            }
        });
        self.stop = Some(tx);
        Ok(())
    }

    fn halt(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
    }
}

impl BleAdvertiser for UdpAdvertiser {
    async fn start(&mut self, payload: [u8; 20]) -> Result<(), AirError> {
        self.start_with_uuid(PHONE_SERVICE_UUID, payload).await
    }

    fn stop(&mut self) {
        self.halt();
    }
}

impl Drop for UdpAdvertiser {
    fn drop(&mut self) {
        self.halt();
    }
}
