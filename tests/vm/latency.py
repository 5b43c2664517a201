"""Request → response latency of a local getAssertion, as a CTAP client sees it.

python-fido2's Ctap2 sends authenticatorGetAssertion and waits for the answer, N times, for a
resident credential made first. The prompt is out of the picture: the RP must be one the
authenticator grants presence without asking (the bridge's `silent_presence_rps` policy, or
`--auto-approve-for-testing` on the UDP authenticator).

Usage:
  latency.py hidraw RP_ID N              the bridge's /dev/hidraw node (inside the VM)
  latency.py udp PASSBRIDGE_BIN RP_ID N  `passbridge authenticator serve --udp` on loopback
Prints one summary line. Bounded: N at most 10 000.
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import time
from pathlib import Path

from fido2.ctap2 import Ctap2
from fido2.hid import CtapHidDevice


def measure(device, rp_id: str, runs: int) -> list[float]:
    ctap = Ctap2(device)
    digest = hashlib.sha256(b"latency").digest()
    made = ctap.make_credential(
        digest,
        {"id": rp_id, "name": rp_id},
        {"id": b"latency-user", "name": "latency"},
        [{"type": "public-key", "alg": -7}],
        options={"rk": True},
    )
    descriptor = {"type": "public-key", "id": made.auth_data.credential_data.credential_id}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        ctap.get_assertion(rp_id, digest, [descriptor])
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    mode = sys.argv[1]
    if mode == "hidraw":
        rp_id, runs = sys.argv[2], min(int(sys.argv[3]), 10_000)
        devices = [d for d in CtapHidDevice.list_devices() if "Passbridge" in (d.product_name or "")]
        assert devices, "no Passbridge key among the hidraw devices"
        times = measure(devices[0], rp_id, runs)
        where = "hidraw (uhid bridge)"
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))
        import os

        os.environ["PASSBRIDGE_BIN"] = sys.argv[2]
        from pbfido import Authenticator

        rp_id, runs = sys.argv[3], min(int(sys.argv[4]), 10_000)
        auth = Authenticator()
        try:
            times = measure(auth.device(), rp_id, runs)
        finally:
            auth.stop()
        where = "UDP loopback"
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(
        f"latency over {where}: getAssertion request -> response, {len(times)} runs: "
        f"median {statistics.median(times):.2f} ms, p95 {p95:.2f} ms, min {times[0]:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
