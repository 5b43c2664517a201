//! ctap-hid-fido2 (an independent Rust CTAP client for USB keys) against the Passbridge bridge:
//! finds the key among the FIDO HID devices, reads getInfo, and lists the resident credentials
//! with credential management. `tests/vm/bridge.sh` runs it inside the VM, where the bridge is
//! a real uhid device.
//!
//! Usage: `ctap-hid-probe PIN RP_ID...` — fails unless every RP ID has a credential.

use std::process::ExitCode;

use ctap_hid_fido2::{FidoKeyHidFactory, LibCfg, get_fidokey_devices};

/// pid.codes test vendor/product of the Passbridge bridge.
const VID: u16 = 0x1209;
const PID: u16 = 0x0001;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ctap-hid-probe: FAIL: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let pin = args.next().ok_or("usage: ctap-hid-probe PIN RP_ID...")?;
    let expected: Vec<String> = args.collect();

    let devices = get_fidokey_devices();
    let ours = devices
        .iter()
        .find(|d| d.vid == VID && d.pid == PID)
        .ok_or_else(|| {
            format!(
                "no FIDO HID device {VID:04x}:{PID:04x} among {}",
                devices.len()
            )
        })?;
    println!(
        "ctap-hid-fido2: found {:04x}:{:04x} \"{}\" ({})",
        ours.vid, ours.pid, ours.product_string, ours.info
    );
    let key =
        FidoKeyHidFactory::create_by_params(std::slice::from_ref(&ours.param), &LibCfg::init())
            .map_err(|e| format!("cannot open the key: {e}"))?;

    let info = key.get_info().map_err(|e| format!("getInfo: {e}"))?;
    let option = |name: &str| {
        info.options
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    };
    println!(
        "ctap-hid-fido2: getInfo versions {:?}, options {:?}, pinUvAuthProtocols {:?}",
        info.versions, info.options, info.pin_uv_auth_protocols
    );
    if !info.versions.iter().any(|v| v == "FIDO_2_1") {
        return Err("getInfo does not list FIDO_2_1".into());
    }
    if option("rk") != Some(true) || option("credMgmt") != Some(true) {
        return Err("getInfo does not offer rk and credMgmt".into());
    }

    let meta = key
        .credential_management_get_creds_metadata(Some(&pin))
        .map_err(|e| format!("credential management, metadata: {e}"))?;
    println!(
        "ctap-hid-fido2: {} resident credential(s), room for {} more",
        meta.existing_resident_credentials_count,
        meta.max_possible_remaining_resident_credentials_count
    );
    let rps = key
        .credential_management_enumerate_rps(Some(&pin))
        .map_err(|e| format!("credential management, RPs: {e}"))?;
    let mut seen = Vec::new();
    for rp in &rps {
        let credentials = key
            .credential_management_enumerate_credentials(Some(&pin), &rp.rpid_hash)
            .map_err(|e| {
                format!(
                    "credential management, credentials of {}: {e}",
                    rp.public_key_credential_rp_entity.id
                )
            })?;
        let users: Vec<&str> = credentials
            .iter()
            .map(|c| c.public_key_credential_user_entity.name.as_str())
            .collect();
        println!(
            "ctap-hid-fido2: RP {} has {} credential(s): {users:?}",
            rp.public_key_credential_rp_entity.id,
            credentials.len()
        );
        if !credentials.is_empty() {
            seen.push(rp.public_key_credential_rp_entity.id.clone());
        }
    }
    let total: usize = rps.len();
    if u32::try_from(total).unwrap_or(u32::MAX) > meta.existing_resident_credentials_count {
        return Err(format!(
            "{total} RPs but only {} credentials",
            meta.existing_resident_credentials_count
        ));
    }
    for rp in &expected {
        if !seen.contains(rp) {
            return Err(format!(
                "credential management does not list a credential for {rp}"
            ));
        }
    }
    Ok(())
}
