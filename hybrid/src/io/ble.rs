//! Real Bluetooth (feature `ble`): the desktop scans with btleplug (BlueZ, CoreBluetooth,
//! WinRT) and, on Linux, the virtual phone advertises through BlueZ with bluer.
//!
//! Scanning is unfiltered: BlueZ merges discovery filters across D-Bus clients, and a UUID
//! filter can drop service-data-only adverts, which is all a phone sends. The service data is
//! read from the peripheral's properties on `DeviceDiscovered`/`DeviceUpdated` as well as from
//! `ServiceDataAdvertisement`, because BlueZ reports the first advert of a device without the
//! latter event (seen in the VM harness, `tests/vm/`).

use std::collections::HashMap;

use btleplug::api::bleuuid::uuid_from_u16;
use btleplug::api::{Central as _, CentralEvent, CentralState, Manager as _, Peripheral as _};
use btleplug::platform::{Adapter, Manager, PeripheralId};
use futures_util::StreamExt as _;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::air::{AirError, BleScanner, BluetoothProblem, SERVICE_UUIDS, ServiceData};

/// Adverts queued between the scanning task and the driver; more than this are dropped
/// (phones repeat their advert several times a second).
const QUEUE: usize = 64;

fn ble_error(what: &'static str, error: impl core::fmt::Display) -> AirError {
    AirError::Bluetooth(BluetoothProblem::Failed {
        what,
        cause: error.to_string(),
    })
}

/// The caBLE adverts among a device's service data.
fn cable_adverts(service_data: &HashMap<Uuid, Vec<u8>>) -> Vec<ServiceData> {
    SERVICE_UUIDS
        .iter()
        .filter_map(|&uuid| {
            service_data
                .get(&uuid_from_u16(uuid))
                .map(|data| ServiceData {
                    uuid,
                    data: data.clone(),
                })
        })
        .collect()
}

/// Scans one Bluetooth adapter for caBLE adverts.
#[derive(Debug)]
pub struct BtleScanner {
    adverts: mpsc::Receiver<Result<ServiceData, AirError>>,
    task: tokio::task::JoinHandle<()>,
    /// The adapter's description (for example "hci0 (usb:v1D6Bp0246d0540)").
    pub adapter_info: String,
}

impl Drop for BtleScanner {
    fn drop(&mut self) {
        // Ends the scan loop; btleplug stops discovery when the adapter handle goes.
        self.task.abort();
    }
}

/// The adapter a scan uses, and every adapter's description.
struct Chosen {
    adapter: Adapter,
    info: String,
    all: Vec<String>,
}

/// The adapter whose description starts with `name` (for example "hci0"), or the first one;
/// it must be powered. One choice for the ceremony's scanner and doctor's survey, so doctor
/// checks the adapter a sign-in would use.
async fn choose_adapter(name: Option<&str>) -> Result<Chosen, BluetoothProblem> {
    let manager = Manager::new()
        .await
        .map_err(|e| BluetoothProblem::ServiceUnavailable(e.to_string()))?;
    let found = manager
        .adapters()
        .await
        .map_err(|e| BluetoothProblem::Failed {
            what: "listing the Bluetooth adapters",
            cause: e.to_string(),
        })?;
    let mut all = Vec::new();
    let mut chosen = None;
    for adapter in found {
        let info = adapter.adapter_info().await.unwrap_or_default();
        if chosen.is_none() && name.is_none_or(|name| info.split_whitespace().next() == Some(name))
        {
            chosen = Some((adapter, info.clone()));
        }
        all.push(info);
    }
    let Some((adapter, info)) = chosen else {
        return Err(BluetoothProblem::NoAdapter(name.map(str::to_owned)));
    };
    if let Ok(CentralState::PoweredOff) = adapter.adapter_state().await {
        return Err(BluetoothProblem::PoweredOff { adapter: info });
    }
    Ok(Chosen { adapter, info, all })
}

impl BtleScanner {
    /// Opens the adapter whose description contains `name` (for example "hci0"), or the first
    /// one, and starts scanning.
    ///
    /// # Errors
    /// [`AirError::Bluetooth`] naming the problem: no adapter, adapter off, no permission, the
    /// Bluetooth service not running.
    pub async fn open(name: Option<&str>) -> Result<Self, AirError> {
        let Chosen {
            adapter,
            info: adapter_info,
            ..
        } = choose_adapter(name).await?;
        let events = adapter
            .events()
            .await
            .map_err(|e| ble_error("watching Bluetooth events", e))?;
        adapter
            .start_scan(btleplug::api::ScanFilter::default())
            .await
            .map_err(|e| match e {
                btleplug::Error::PermissionDenied => BluetoothProblem::PermissionDenied.into(),
                other => ble_error("starting a Bluetooth scan", other),
            })?;
        let (tx, adverts) = mpsc::channel(QUEUE);
        let task = tokio::spawn(scan_loop(adapter, events, tx));
        Ok(Self {
            adverts,
            task,
            adapter_info,
        })
    }
}

/// Forwards caBLE adverts from btleplug's events to the scanner's queue.
async fn scan_loop(
    adapter: Adapter,
    mut events: core::pin::Pin<Box<dyn futures_util::Stream<Item = CentralEvent> + Send>>,
    tx: mpsc::Sender<Result<ServiceData, AirError>>,
) {
    while let Some(event) = events.next().await {
        let adverts = match event {
            CentralEvent::ServiceDataAdvertisement { service_data, .. } => {
                cable_adverts(&service_data)
            }
            CentralEvent::DeviceDiscovered(id) | CentralEvent::DeviceUpdated(id) => {
                properties_adverts(&adapter, &id).await
            }
            CentralEvent::StateUpdate(CentralState::PoweredOff) => {
                let _ = tx.send(Err(BluetoothProblem::TurnedOff.into())).await;
                return;
            }
            _ => continue,
        };
        for advert in adverts {
            // A full queue means the driver is busy; a phone repeats its advert anyway.
            let _ = tx.try_send(Ok(advert));
        }
        if tx.is_closed() {
            return;
        }
    }
    let _ = tx
        .send(Err(ble_error("scanning", "the scan ended unexpectedly")))
        .await;
}

async fn properties_adverts(adapter: &Adapter, id: &PeripheralId) -> Vec<ServiceData> {
    let Ok(peripheral) = adapter.peripheral(id).await else {
        return Vec::new();
    };
    match peripheral.properties().await {
        Ok(Some(properties)) => cable_adverts(&properties.service_data),
        _ => Vec::new(),
    }
}

impl BleScanner for BtleScanner {
    async fn next_advert(&mut self) -> Result<ServiceData, AirError> {
        // Receiving from the queue is cancel-safe, as the driver requires.
        match self.adverts.recv().await {
            Some(advert) => advert,
            None => Err(ble_error("scanning", "the scan stopped")),
        }
    }
}

/// Advertises the phone's encrypted EID through BlueZ (Linux only): what a phone does after
/// scanning the QR code.
#[cfg(target_os = "linux")]
pub struct BluezAdvertiser {
    adapter: bluer::Adapter,
    handle: Option<bluer::adv::AdvertisementHandle>,
    _session: bluer::Session,
}

#[cfg(target_os = "linux")]
impl core::fmt::Debug for BluezAdvertiser {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BluezAdvertiser")
            .field("adapter", &self.adapter.name())
            .field("advertising", &self.handle.is_some())
            .finish()
    }
}

#[cfg(target_os = "linux")]
impl BluezAdvertiser {
    /// Opens the BlueZ adapter `name` (for example "hci1"), or the default one, and powers it.
    ///
    /// # Errors
    /// [`AirError::Bluetooth`].
    pub async fn open(name: Option<&str>) -> Result<Self, AirError> {
        let session = bluer::Session::new()
            .await
            .map_err(|e| BluetoothProblem::ServiceUnavailable(e.to_string()))?;
        let no_adapter = |_| BluetoothProblem::NoAdapter(name.map(str::to_owned));
        let adapter = match name {
            Some(name) => session.adapter(name).map_err(no_adapter)?,
            None => session.default_adapter().await.map_err(no_adapter)?,
        };
        adapter
            .set_powered(true)
            .await
            .map_err(|e| ble_error("powering the Bluetooth adapter on", e))?;
        Ok(Self {
            adapter,
            handle: None,
            _session: session,
        })
    }
}

#[cfg(target_os = "linux")]
impl super::air::BleAdvertiser for BluezAdvertiser {
    async fn start(&mut self, payload: [u8; 20]) -> Result<(), AirError> {
        self.stop();
        let advert = bluer::adv::Advertisement {
            advertisement_type: bluer::adv::Type::Broadcast,
            service_data: [(
                uuid_from_u16(super::air::PHONE_SERVICE_UUID),
                payload.to_vec(),
            )]
            .into(),
            // Fast advertising while the desktop waits: phones use about 100 ms too.
            min_interval: Some(core::time::Duration::from_millis(100)),
            max_interval: Some(core::time::Duration::from_millis(150)),
            ..bluer::adv::Advertisement::default()
        };
        let handle = self
            .adapter
            .advertise(advert)
            .await
            .map_err(|e| ble_error("advertising over BlueZ", e))?;
        self.handle = Some(handle);
        Ok(())
    }

    fn stop(&mut self) {
        // Dropping the handle unregisters the advertisement.
        self.handle = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cable_service_data_is_taken() {
        let mut data = HashMap::new();
        data.insert(uuid_from_u16(0xfff9), vec![1; 20]);
        data.insert(uuid_from_u16(0xfde2), vec![2; 20]);
        data.insert(uuid_from_u16(0x180f), vec![3]);
        let mut got = cable_adverts(&data);
        got.sort_by_key(|a| a.uuid);
        assert_eq!(
            got,
            vec![
                ServiceData {
                    uuid: 0xfde2,
                    data: vec![2; 20]
                },
                ServiceData {
                    uuid: 0xfff9,
                    data: vec![1; 20]
                },
            ]
        );
    }
}

/// What a look at this machine's Bluetooth found, for `doctor`: the adapters, the one chosen,
/// and (with a scan) every FIDO service-data advert heard, undecrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BleSurvey {
    /// Every adapter's description.
    pub adapters: Vec<String>,
    /// The adapter looked at.
    pub adapter: String,
    /// The adverts heard during the scan (empty without one), by device and UUID.
    pub adverts: Vec<AdvertSeen>,
}

/// One device's FIDO adverts under one UUID, as heard during a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertSeen {
    /// The device's address as BlueZ reports it (phones use random, changing addresses).
    pub device: String,
    /// The 16-bit service UUID: 0xFFF9 (FIDO) or 0xFDE2 (Google's older one).
    pub uuid: u16,
    /// Every service-data length heard, ascending.
    pub lengths: Vec<usize>,
    /// The strongest signal heard (dBm), if reported.
    pub rssi: Option<i16>,
    /// How many reports of it arrived.
    pub count: u32,
}

/// Looks at the adapter `name` (or the first): present and powered, and, with `scan`, scans
/// that long and reports every FIDO service-data advert heard.
///
/// # Errors
/// The [`BluetoothProblem`] that stops phone sign-ins here: no Bluetooth service, no adapter,
/// the adapter off, no permission to scan.
pub async fn survey(
    name: Option<&str>,
    scan: Option<std::time::Duration>,
) -> Result<BleSurvey, BluetoothProblem> {
    let Chosen {
        adapter,
        info,
        all: adapters,
    } = choose_adapter(name).await?;
    let mut survey = BleSurvey {
        adapters,
        adapter: info,
        adverts: Vec::new(),
    };
    let Some(scan) = scan else {
        return Ok(survey);
    };
    let failed = |what: &'static str, e: btleplug::Error| match e {
        btleplug::Error::PermissionDenied => BluetoothProblem::PermissionDenied,
        other => BluetoothProblem::Failed {
            what,
            cause: other.to_string(),
        },
    };
    let mut events = adapter
        .events()
        .await
        .map_err(|e| failed("watching Bluetooth events", e))?;
    adapter
        .start_scan(btleplug::api::ScanFilter::default())
        .await
        .map_err(|e| failed("starting a Bluetooth scan", e))?;
    let deadline = tokio::time::Instant::now() + scan;
    let mut heard: HashMap<(PeripheralId, u16), AdvertSeen> = HashMap::new();
    loop {
        let event = match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(event)) => event,
            Ok(None) | Err(_) => break,
        };
        let id = match event {
            CentralEvent::ServiceDataAdvertisement { id, .. }
            | CentralEvent::DeviceDiscovered(id)
            | CentralEvent::DeviceUpdated(id) => id,
            CentralEvent::StateUpdate(CentralState::PoweredOff) => {
                return Err(BluetoothProblem::TurnedOff);
            }
            _ => continue,
        };
        let Ok(peripheral) = adapter.peripheral(&id).await else {
            continue;
        };
        let Ok(Some(properties)) = peripheral.properties().await else {
            continue;
        };
        for advert in cable_adverts(&properties.service_data) {
            let seen = heard
                .entry((id.clone(), advert.uuid))
                .or_insert_with(|| AdvertSeen {
                    device: properties.address.to_string(),
                    uuid: advert.uuid,
                    lengths: Vec::new(),
                    rssi: None,
                    count: 0,
                });
            seen.count = seen.count.saturating_add(1);
            if !seen.lengths.contains(&advert.data.len()) {
                seen.lengths.push(advert.data.len());
                seen.lengths.sort_unstable();
            }
            if let Some(rssi) = properties.rssi {
                seen.rssi = Some(seen.rssi.map_or(rssi, |best: i16| best.max(rssi)));
            }
        }
    }
    let _ = adapter.stop_scan().await;
    survey.adverts = heard.into_values().collect();
    survey
        .adverts
        .sort_by(|a, b| (a.uuid, &a.device).cmp(&(b.uuid, &b.device)));
    Ok(survey)
}
