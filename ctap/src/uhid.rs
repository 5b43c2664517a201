//! The Linux uhid event codec (`linux/uhid.h`), without I/O: the FIDO key's `UHID_CREATE2`,
//! `UHID_INPUT2` for IN reports, and decoding what the kernel sends (OUT reports, open/close,
//! feature-report requests that need an answer). `struct uhid_event` is a fixed-size record in
//! host byte order, so plain `read`/`write` on `/dev/uhid` carry these bytes; the app does that.

/// The name the device shows (`HID_NAME`, python-fido2's product name, browsers' lists).
pub const DEVICE_NAME: &str = "Passbridge virtual FIDO key";
/// pid.codes' open-source vendor ID, with its test product ID: recognisable in `lsusb`-style
/// listings as not a real vendor's key. A release would register its own product ID.
pub const VENDOR_ID: u32 = 0x1209;
/// See [`VENDOR_ID`].
pub const PRODUCT_ID: u32 = 0x0001;
/// `BUS_USB`: clients that filter security keys by bus (some browsers) see a USB key.
const BUS_USB: u16 = 0x03;

/// The FIDO HID report descriptor (CTAP 2.1 §11.2.8.1): usage page 0xF1D0, usage 0x01,
/// 64-byte input and output reports, no report IDs.
pub const REPORT_DESCRIPTOR: [u8; 34] = [
    0x06, 0xD0, 0xF1, // Usage Page (FIDO Alliance)
    0x09, 0x01, // Usage (CTAPHID)
    0xA1, 0x01, // Collection (Application)
    0x09, 0x20, //   Usage (Input Report Data)
    0x15, 0x00, //   Logical Minimum (0)
    0x26, 0xFF, 0x00, //   Logical Maximum (255)
    0x75, 0x08, //   Report Size (8)
    0x95, 0x40, //   Report Count (64)
    0x81, 0x02, //   Input (Data, Variable, Absolute)
    0x09, 0x21, //   Usage (Output Report Data)
    0x15, 0x00, //   Logical Minimum (0)
    0x26, 0xFF, 0x00, //   Logical Maximum (255)
    0x75, 0x08, //   Report Size (8)
    0x95, 0x40, //   Report Count (64)
    0x91, 0x02, //   Output (Data, Variable, Absolute)
    0xC0, // End Collection
];

// Event types (linux/uhid.h).
const UHID_DESTROY: u32 = 1;
const UHID_OPEN: u32 = 4;
const UHID_CLOSE: u32 = 5;
const UHID_OUTPUT: u32 = 6;
const UHID_GET_REPORT: u32 = 9;
const UHID_GET_REPORT_REPLY: u32 = 10;
const UHID_CREATE2: u32 = 11;
const UHID_INPUT2: u32 = 12;
const UHID_SET_REPORT: u32 = 13;
const UHID_SET_REPORT_REPLY: u32 = 14;

/// `sizeof(struct uhid_event)`: the type plus the largest union member (`uhid_create2_req`).
pub const EVENT_SIZE: usize = 4 + 128 + 64 + 64 + 2 + 2 + 4 * 4 + 4096;
/// `EIO`, the answer to feature-report requests a FIDO key does not have.
const EIO: u16 = 5;

/// What a client did to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// One 64-byte OUT report from a client.
    Output([u8; 64]),
    /// A client opened or closed the hidraw node (logged only).
    Opened(bool),
}

fn put_u16(event: &mut [u8], at: usize, value: u16) {
    if let Some(slot) = event.get_mut(at..at + 2) {
        slot.copy_from_slice(&value.to_ne_bytes());
    }
}

fn put_u32(event: &mut [u8], at: usize, value: u32) {
    if let Some(slot) = event.get_mut(at..at + 4) {
        slot.copy_from_slice(&value.to_ne_bytes());
    }
}

fn put_bytes(event: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(slot) = event.get_mut(at..at + bytes.len()) {
        slot.copy_from_slice(bytes);
    }
}

fn get_u16(event: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(event.get(at..at + 2)?.try_into().ok()?))
}

fn get_u32(event: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(event.get(at..at + 4)?.try_into().ok()?))
}

/// `UHID_CREATE2` for the FIDO key.
pub fn create_event(uniq: &str) -> Vec<u8> {
    let mut event = vec![0u8; EVENT_SIZE];
    put_u32(&mut event, 0, UHID_CREATE2);
    // name[128], phys[64], uniq[64]: NUL-terminated, truncated to fit.
    let name = DEVICE_NAME.as_bytes();
    put_bytes(&mut event, 4, name.get(..127).unwrap_or(name));
    put_bytes(&mut event, 132, b"passbridge");
    let uniq = uniq.as_bytes();
    put_bytes(&mut event, 196, uniq.get(..63).unwrap_or(uniq));
    let rd_size = u16::try_from(REPORT_DESCRIPTOR.len()).unwrap_or(u16::MAX);
    put_u16(&mut event, 260, rd_size);
    put_u16(&mut event, 262, BUS_USB);
    put_u32(&mut event, 264, VENDOR_ID);
    put_u32(&mut event, 268, PRODUCT_ID);
    put_u32(&mut event, 272, 0x0100); // version
    put_u32(&mut event, 276, 0); // country
    put_bytes(&mut event, 280, &REPORT_DESCRIPTOR);
    event
}

/// `UHID_DESTROY`: removes the device.
pub fn destroy_event() -> Vec<u8> {
    let mut event = vec![0u8; 4];
    put_u32(&mut event, 0, UHID_DESTROY);
    event
}

/// `UHID_INPUT2` carrying one IN report.
pub fn input_event(report: &[u8; 64]) -> Vec<u8> {
    let mut event = vec![0u8; 4 + 2 + report.len()];
    put_u32(&mut event, 0, UHID_INPUT2);
    put_u16(&mut event, 4, 64);
    put_bytes(&mut event, 6, report);
    event
}

/// Decodes one event read from the device: an OUT report, open/close, or a feature-report
/// request that needs a reply (returned as the reply's bytes).
pub fn decode(event: &[u8]) -> (Option<Event>, Option<Vec<u8>>) {
    match get_u32(event, 0) {
        Some(UHID_OUTPUT) => {
            // output_req: data[4096] at 4, size at 4100. hidraw passes the report number
            // (0, the descriptor has none) as the first byte of a 65-byte write.
            let size = get_u16(event, 4100).map_or(0, usize::from);
            let data = event.get(4..4 + size.min(4096)).unwrap_or_default();
            let data = match data.len() {
                65 => data.get(1..).unwrap_or_default(),
                _ => data,
            };
            let report = <[u8; 64]>::try_from(data).ok().map(Event::Output);
            (report, None)
        }
        Some(UHID_OPEN) => (Some(Event::Opened(true)), None),
        Some(UHID_CLOSE) => (Some(Event::Opened(false)), None),
        Some(kind @ (UHID_GET_REPORT | UHID_SET_REPORT)) => {
            // get_report_req / set_report_req start with the request id; answer "EIO" so the
            // kernel does not hold the caller for its 5-second timeout.
            let id = get_u32(event, 4).unwrap_or(0);
            let reply_kind = if kind == UHID_GET_REPORT {
                UHID_GET_REPORT_REPLY
            } else {
                UHID_SET_REPORT_REPLY
            };
            let mut reply = vec![0u8; 4 + 4 + 2 + 2];
            put_u32(&mut reply, 0, reply_kind);
            put_u32(&mut reply, 4, id);
            put_u16(&mut reply, 8, EIO);
            (None, Some(reply))
        }
        _ => (None, None),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: failing loudly is the point"
)]
mod tests {
    use super::*;

    #[test]
    fn the_event_size_is_the_kernels() {
        // sizeof(struct uhid_event) on every Linux ABI: 4 + sizeof(uhid_create2_req).
        assert_eq!(EVENT_SIZE, 4376);
    }

    #[test]
    fn create2_lays_out_the_fido_descriptor() {
        let event = create_event("serial-1");
        assert_eq!(event.len(), EVENT_SIZE);
        assert_eq!(get_u32(&event, 0), Some(UHID_CREATE2));
        assert!(event[4..].starts_with(DEVICE_NAME.as_bytes()));
        assert!(event[196..].starts_with(b"serial-1\0"));
        assert_eq!(get_u16(&event, 260), Some(34));
        assert_eq!(get_u16(&event, 262), Some(BUS_USB));
        assert_eq!(get_u32(&event, 264), Some(VENDOR_ID));
        assert_eq!(&event[280..283], &[0x06, 0xD0, 0xF1]);
        assert_eq!(event[280 + 34], 0);
    }

    fn output(data: &[u8]) -> Vec<u8> {
        let mut event = vec![0u8; EVENT_SIZE];
        put_u32(&mut event, 0, UHID_OUTPUT);
        put_bytes(&mut event, 4, data);
        put_u16(&mut event, 4100, u16::try_from(data.len()).unwrap());
        event
    }

    #[test]
    fn output_reports_lose_the_report_number_only_when_present() {
        let report: Vec<u8> = (0..64).collect();
        let mut numbered = vec![0u8];
        numbered.extend(&report);
        for data in [&report, &numbered] {
            match decode(&output(data)) {
                (Some(Event::Output(got)), None) => assert_eq!(got.to_vec(), report),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(decode(&output(&[1, 2, 3])), (None, None));
        // Truncated or unknown events are ignored, never a panic.
        assert_eq!(decode(&[6, 0]), (None, None));
        assert_eq!(decode(&[]), (None, None));
    }

    #[test]
    fn feature_report_requests_are_answered_with_eio() {
        let mut event = vec![0u8; EVENT_SIZE];
        put_u32(&mut event, 0, UHID_GET_REPORT);
        put_u32(&mut event, 4, 77);
        let (none, reply) = decode(&event);
        assert!(none.is_none());
        let reply = reply.unwrap();
        assert_eq!(get_u32(&reply, 0), Some(UHID_GET_REPORT_REPLY));
        assert_eq!(get_u32(&reply, 4), Some(77));
        assert_eq!(get_u16(&reply, 8), Some(EIO));
    }

    #[test]
    fn input2_carries_the_report() {
        let report = [0xAB; 64];
        let event = input_event(&report);
        assert_eq!(get_u32(&event, 0), Some(UHID_INPUT2));
        assert_eq!(get_u16(&event, 4), Some(64));
        assert_eq!(&event[6..], &report);
    }
}
