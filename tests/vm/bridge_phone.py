"""The bridge forwarding to a phone, as a browser would use it (inside the VM).

python-fido2 talks to the bridge's hidraw node like a browser; the bridge (`--phone`) shows a
QR code, which this script hands to `passbridge phone` (the virtual phone, on the local relay
and the loopback air). Checked: a registration and a sign-in through the phone, verified by
Fido2Server; then a cancel from the client while the phone stalls ends the phone's session
within one second.
Usage: bridge_phone.py PASSBRIDGE_BIN RELAY_URL AIR BRIDGE_STDERR_FILE
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from fido2.client import DefaultClientDataCollector, Fido2Client
from fido2.server import Fido2Server
from fido2.webauthn import PublicKeyCredentialDescriptor, PublicKeyCredentialType

from bridge_client import NoPin, passbridge_key

BIN, RELAY, AIR, LOG = sys.argv[1:5]
RP = {"id": "phone.example", "name": "Phone RP"}


def log_size() -> int:
    return os.path.getsize(LOG)


def wait_for(prefix: str, since: int, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(LOG, encoding="utf-8", errors="replace") as f:
            f.seek(since)
            for line in f:
                if prefix in line:
                    return line.strip()
        time.sleep(0.05)
    raise AssertionError(f"no {prefix!r} from the bridge within {timeout} s")


def phone(qr: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([BIN, "phone", "--qr", qr, "--relay", RELAY, "--air", AIR, "--timeout", "60",
                             "--profile", "Phone", *extra], stderr=subprocess.PIPE, text=True)


def in_thread(call, *args, **kwargs):
    result: dict = {}

    def run():
        try:
            result["value"] = call(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - reported by the caller
            result["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def through_phone(call, *args, **kwargs):
    since = log_size()
    thread, result = in_thread(call, *args, **kwargs)
    qr = wait_for("FIDO:/", since)
    proc = phone(qr[qr.index("FIDO:/"):])
    thread.join(90)
    _, err = proc.communicate(timeout=30)
    assert "value" in result, f"client failed: {result.get('error')!r}; phone: {err}"
    assert proc.returncode == 0, err
    return result["value"]


def main() -> int:
    device = passbridge_key()
    client = Fido2Client(device, client_data_collector=DefaultClientDataCollector("https://phone.example"),
                         user_interaction=NoPin())
    server = Fido2Server(RP)

    options, state = server.register_begin({"id": b"user-phone", "name": "pat", "displayName": "Pat"},
                                           user_verification="discouraged")
    made = through_phone(client.make_credential, options["publicKey"])
    credential = server.register_complete(state, made).credential_data
    print("bridge_phone: registration through the phone verified by Fido2Server")

    options, state = server.authenticate_begin([credential], user_verification="discouraged")
    got = through_phone(client.get_assertion, options["publicKey"]).get_response(0)
    server.authenticate_complete(state, [credential], got)
    print("bridge_phone: sign-in through the phone verified by Fido2Server")

    # A site that knows two passkeys for the account, the phone's second: the client probes
    # both silently (the bridge answers those itself) and the phone still gets the whole list.
    options, state = server.authenticate_begin([credential], user_verification="discouraged")
    public_key = options["publicKey"]
    allow = list(public_key["allowCredentials"])
    other = PublicKeyCredentialDescriptor(type=PublicKeyCredentialType.PUBLIC_KEY, id=b"\x42" * 32)
    if isinstance(allow[0], dict):
        other = dict(other)
    public_key = {**public_key, "allowCredentials": [other, *allow]}
    got = through_phone(client.get_assertion, public_key).get_response(0)
    server.authenticate_complete(state, [credential], got)
    print("bridge_phone: sign-in with two allowed passkeys (the phone's second) verified")

    # Cancel while the phone has the request and never answers.
    options, _ = server.authenticate_begin([credential], user_verification="discouraged")
    cancel = threading.Event()
    since = log_size()
    thread, result = in_thread(client.get_assertion, options["publicKey"], event=cancel)
    qr = wait_for("FIDO:/", since)
    proc = phone(qr[qr.index("FIDO:/"):], "--stall")
    wait_for("secure channel established", since)
    time.sleep(0.5)  # the phone is now sitting on the request
    assert proc.poll() is None, "the stalled phone ended by itself"
    started = time.monotonic()
    cancel.set()
    proc.wait(timeout=10)
    ended = time.monotonic() - started
    thread.join(10)
    print(f"bridge_phone: cancel from the client ended the phone's session in {ended * 1000:.0f} ms "
          f"(client saw {result.get('error')!r})")
    assert "error" in result, "the cancelled request returned a result"
    assert ended < 1.0, f"the phone's session outlived the cancel by {ended:.2f} s"
    return 0


if __name__ == "__main__":
    sys.exit(main())
