"""python-fido2 against the bridge through the kernel's hidraw node (inside the VM).

A relying party's view: registration and sign-in through Fido2Client over fido2.hid (which
finds the key by its FIDO usage page in /dev/hidraw*), checked by Fido2Server; then a PIN is
set and credential management lists every resident key the other clients made.
Usage: bridge_client.py PIN EXPECTED_RP_ID...
"""

from __future__ import annotations

import sys

from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap2 import Ctap2
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin
from fido2.hid import CtapHidDevice
from fido2.server import Fido2Server

RP = {"id": "bridge.example", "name": "Bridge RP"}


class NoPin(UserInteraction):
    def request_pin(self, permissions, rp_id):
        return None

    def request_uv(self, permissions, rp_id):
        return True


def passbridge_key() -> CtapHidDevice:
    """The bridge's key among the hidraw devices, found by its product name."""
    devices = [d for d in CtapHidDevice.list_devices() if "Passbridge" in (d.product_name or "")]
    assert devices, f"no Passbridge key among {list(CtapHidDevice.list_devices())}"
    return devices[0]


def main() -> int:
    pin, expected = sys.argv[1], set(sys.argv[2:])
    device = passbridge_key()
    print(f"python-fido2: found {device.descriptor.path} ({device.product_name})")

    client = Fido2Client(device, client_data_collector=DefaultClientDataCollector("https://bridge.example"),
                         user_interaction=NoPin())
    server = Fido2Server(RP)
    options, state = server.register_begin({"id": b"user-bridge", "name": "bridget"},
                                           resident_key_requirement="required",
                                           user_verification="discouraged")
    made = client.make_credential(options["publicKey"])
    credential = server.register_complete(state, made).credential_data
    options, state = server.authenticate_begin([credential], user_verification="discouraged")
    got = client.get_assertion(options["publicKey"]).get_response(0)
    server.authenticate_complete(state, [credential], got)
    print("python-fido2: registration and sign-in verified by Fido2Server over hidraw")

    ctap2 = Ctap2(device)
    client_pin = ClientPin(ctap2)
    client_pin.set_pin(pin)
    token = client_pin.get_pin_token(pin, ClientPin.PERMISSION.CREDENTIAL_MGMT)
    credman = CredentialManagement(ctap2, client_pin.protocol, token)
    rps = {rp[CredentialManagement.RESULT.RP]["id"] for rp in credman.enumerate_rps()}
    print(f"python-fido2: PIN set; resident keys for {sorted(rps)}")
    missing = expected - rps
    assert not missing, f"credential management does not list {missing}"
    return 0


if __name__ == "__main__":
    sys.exit(main())
