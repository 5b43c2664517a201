"""Glue between Yubico's python-fido2 and Passbridge's UDP CTAPHID front-end.

The front-end follows the SoloKeys simulation convention: every 64-byte datagram sent to the
authenticator's port is one OUT report; every IN report comes back as one 64-byte datagram to
the reply port. A fixed 64-byte "magic reboot" datagram simulates a power cycle.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor

REPO = Path(__file__).resolve().parents[2]
REBOOT = bytes.fromhex(
    "ac1052ca95e569de69e02ebff333485f13f9b2da34c5a8a340526697a9ab2e0b"
    "394d8d04973c134005be1a0140bff6045bb26eb77a73eaa47813f6b49a7250dc"
)


def binary() -> str:
    return os.environ.get("PASSBRIDGE_BIN", str(REPO / "target" / "debug" / "passbridge"))


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UdpConnection(CtapHidConnection):
    def __init__(self, port: int, reply_port: int, timeout: float = 10.0):
        self.remote = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", reply_port))
        self.sock.settimeout(timeout)

    def write_packet(self, data: bytes) -> None:
        self.sock.sendto(data, self.remote)

    def read_packet(self) -> bytes:
        return self.sock.recvfrom(64)[0]

    def close(self) -> None:
        self.sock.close()


def descriptor(port: int) -> HidDescriptor:
    return HidDescriptor(f"udp:{port}", 0x1209, 0xB1D6, 64, 64, "Passbridge", "udp")


def open_device(port: int, reply_port: int) -> CtapHidDevice:
    return CtapHidDevice(descriptor(port), UdpConnection(port, reply_port))


def power_cycle(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(REBOOT, ("127.0.0.1", port))
    # The authenticator handles datagrams in order; a short pause lets it finish the reboot
    # before the next INIT arrives on a fresh socket.
    time.sleep(0.05)


class Authenticator:
    """A `passbridge authenticator serve --udp` process on free loopback ports."""

    def __init__(self, extra_args: list[str] | None = None):
        self.port = free_udp_port()
        self.reply_port = free_udp_port()
        args = [
            binary(), "authenticator", "serve", "--udp",
            "--listen", f"127.0.0.1:{self.port}",
            "--reply-to", f"127.0.0.1:{self.reply_port}",
            "--auto-approve-for-testing",
        ] + (extra_args or [])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        # The server prints one line once its socket is bound.
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "listening" not in line:
            self.stop()
            raise RuntimeError(f"authenticator did not start: {line!r}")

    def device(self) -> CtapHidDevice:
        return open_device(self.port, self.reply_port)

    def power_cycle(self) -> None:
        power_cycle(self.port)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
