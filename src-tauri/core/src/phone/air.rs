//! Where adverts travel: real Bluetooth by default, the loopback air (`udp://127.0.0.1:PORT`)
//! for tests and demos without radios.

use std::net::SocketAddr;

use hybrid::io::air::{
    AirError, BleAdvertiser, BleScanner, ServiceData, UdpAdvertiser, UdpScanner, parse_air,
};
use hybrid::io::ble::BtleScanner;

/// Where to look for (or, for the virtual phone, send) the advert. For the virtual phone
/// Bluetooth means BlueZ advertising.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Air {
    /// The loopback air.
    Udp(SocketAddr),
    /// Bluetooth, on the named adapter (for example "hci0") or the first one.
    Bluetooth(Option<String>),
}

impl Default for Air {
    fn default() -> Self {
        Self::Bluetooth(None)
    }
}

/// The forms an air setting takes, for help texts and errors.
pub const AIR_FORMS: &str = "ble, ble:ADAPTER (e.g. ble:hci0) or udp://127.0.0.1:PORT";

impl Air {
    /// Parses an air setting; `None` (none given) is Bluetooth on the first adapter.
    ///
    /// # Errors
    /// [`AirError::BadAddress`] for an unknown form, [`AirError::NotLoopback`] for a UDP
    /// address off this machine.
    pub fn parse(text: Option<&str>) -> Result<Self, AirError> {
        match text {
            None | Some("ble" | "bluetooth") => Ok(Self::Bluetooth(None)),
            Some(text) if text.starts_with("udp://") => parse_air(text).map(Self::Udp),
            Some(text) => match text.strip_prefix("ble:") {
                Some(adapter) if !adapter.is_empty() => {
                    Ok(Self::Bluetooth(Some(adapter.to_owned())))
                }
                _ => Err(AirError::BadAddress(text.to_owned())),
            },
        }
    }

    /// Opens the scanning side (the desktop client).
    ///
    /// # Errors
    /// The socket's or Bluetooth's failure.
    pub async fn scanner(&self) -> Result<Scanner, AirError> {
        Ok(match self {
            Self::Udp(addr) => Scanner::Udp(UdpScanner::bind(*addr).await?),
            Self::Bluetooth(adapter) => {
                let scanner = BtleScanner::open(adapter.as_deref()).await?;
                tracing::info!(adapter = %scanner.adapter_info, "scanning Bluetooth");
                Scanner::Ble(scanner)
            }
        })
    }

    /// Opens the advertising side (the virtual phone).
    ///
    /// # Errors
    /// The socket's or Bluetooth's failure; Bluetooth advertising outside Linux.
    pub async fn advertiser(&self) -> Result<Advertiser, AirError> {
        match self {
            Self::Udp(addr) => Ok(Advertiser::Udp(UdpAdvertiser::new(*addr))),
            #[cfg(target_os = "linux")]
            Self::Bluetooth(adapter) => Ok(Advertiser::Bluez(
                hybrid::io::ble::BluezAdvertiser::open(adapter.as_deref()).await?,
            )),
            #[cfg(not(target_os = "linux"))]
            Self::Bluetooth(_) => Err(AirError::Bluetooth(
                hybrid::io::air::BluetoothProblem::Unsupported(
                    "the virtual phone can advertise over Bluetooth only on Linux (BlueZ)",
                ),
            )),
        }
    }
}

/// Either scanner, chosen at run time.
#[derive(Debug)]
pub enum Scanner {
    /// The loopback air.
    Udp(UdpScanner),
    /// Bluetooth.
    Ble(BtleScanner),
}

impl BleScanner for Scanner {
    async fn next_advert(&mut self) -> Result<ServiceData, AirError> {
        match self {
            Self::Udp(scanner) => scanner.next_advert().await,
            Self::Ble(scanner) => scanner.next_advert().await,
        }
    }
}

/// Either advertiser, chosen at run time.
#[derive(Debug)]
pub enum Advertiser {
    /// The loopback air.
    Udp(UdpAdvertiser),
    /// BlueZ (Linux).
    #[cfg(target_os = "linux")]
    Bluez(hybrid::io::ble::BluezAdvertiser),
}

impl BleAdvertiser for Advertiser {
    async fn start(&mut self, payload: [u8; 20]) -> Result<(), AirError> {
        match self {
            Self::Udp(advertiser) => advertiser.start(payload).await,
            #[cfg(target_os = "linux")]
            Self::Bluez(advertiser) => advertiser.start(payload).await,
        }
    }

    fn stop(&mut self) {
        match self {
            Self::Udp(advertiser) => advertiser.stop(),
            #[cfg(target_os = "linux")]
            Self::Bluez(advertiser) => advertiser.stop(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn air_forms_parse() {
        assert_eq!(Air::parse(None).ok(), Some(Air::Bluetooth(None)));
        assert_eq!(Air::parse(Some("ble")).ok(), Some(Air::Bluetooth(None)));
        assert_eq!(
            Air::parse(Some("ble:hci1")).ok(),
            Some(Air::Bluetooth(Some("hci1".to_owned())))
        );
        assert_eq!(
            Air::parse(Some("udp://127.0.0.1:9")).ok(),
            Some(Air::Udp(([127, 0, 0, 1], 9).into()))
        );
        assert!(matches!(
            Air::parse(Some("udp://10.0.0.1:9")),
            Err(AirError::NotLoopback(_))
        ));
        assert!(matches!(
            Air::parse(Some("ble:")),
            Err(AirError::BadAddress(_))
        ));
        assert!(matches!(
            Air::parse(Some("wifi")),
            Err(AirError::BadAddress(_))
        ));
    }
}
