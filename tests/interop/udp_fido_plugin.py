"""pytest plugin: runs python-fido2's own device test suite (tests/device in the fido2 sdist)
against Passbridge's UDP CTAPHID front-end.

It replaces fido2.hid's device discovery with one UDP "device" and stands in for the suite's
"Pico controller" (an HTTP service that switches USB power and touch): power off hides the
device and sends the magic reboot datagram (a simulated power cycle), power on shows it again.
Touch needs nothing: the authenticator runs with --auto-approve-for-testing.

Load it with `pytest -p udp_fido_plugin` before the suite's conftest imports fido2.hid; the
ports come from PB_PORT / PB_REPLY_PORT.
"""

import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import fido2.hid

import pbfido

PORT = int(os.environ.get("PB_PORT", "8111"))
REPLY_PORT = int(os.environ.get("PB_REPLY_PORT", "7112"))
STATE = {"powered": True}


def _get_descriptor(path):
    return pbfido.descriptor(PORT)


def _list_descriptors():
    return [pbfido.descriptor(PORT)] if STATE["powered"] else []


def _open_connection(descriptor):
    return pbfido.UdpConnection(PORT, REPLY_PORT)


def _open_device(path):
    return pbfido.open_device(PORT, REPLY_PORT)


fido2.hid.get_descriptor = _get_descriptor
fido2.hid.list_descriptors = _list_descriptors
fido2.hid.open_connection = _open_connection
fido2.hid.open_device = _open_device


class _Controller(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/power/off"):
            STATE["powered"] = False
            pbfido.power_cycle(PORT)
        elif self.path.endswith("/power/on"):
            STATE["powered"] = True
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def pytest_configure(config):
    server = HTTPServer(("127.0.0.1", 0), _Controller)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if not config.getoption("controller", None):
        config.option.controller = "http://127.0.0.1:%d" % server.server_port
