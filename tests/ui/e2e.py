#!/usr/bin/env python3
"""The window, end to end, in the real WebKitGTK webview.

tauri-driver + WebKitWebDriver under Xvfb drive the desktop build the way a person at a shared
workstation would: create a profile, see the empty list, point the settings at a local relay,
register a passkey on the virtual phone (QR code) and sign in with it again (linked phone, no
QR), answer a site's request in the request dialog (python-fido2 is the site's browser,
talking to the app's security key over loopback UDP), answer another with "Use a phone
instead" (the site's request goes to the virtual phone, and the passkey joins the list as one
on a phone), delete a passkey, lock the profile and
see nothing. Around the window, as a desktop would be (tests/ui/desktop_probe.py: a tray host's
registry, the XDG portal's colour scheme, a window manager's close button): the window follows the
system's dark and light theme, closing it leaves Passbridge in the tray, a site's request brings
the hidden window back with the dialog, a second launch brings the first to the front, "start at
login" writes and removes the autostart entry, and the tray menu locks the profile. Every step
asserts what the window shows; a screenshot of each screen is saved.

Usage: e2e.py PASSBRIDGE_DESKTOP_BINARY OUT_DIR
Needs: Xvfb, tauri-driver, WebKitWebDriver, a D-Bus session with an unlocked Secret Service
(./dev runs it inside one), python-fido2.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The desktop probe needs the distribution's python3-dbus, python3-gi and python3-xlib.
SYSTEM_PYTHON = "/usr/bin/python3"
PROBE = str(REPO / "tests" / "ui" / "desktop_probe.py")
sys.path.insert(0, str(REPO / "tests" / "interop"))

from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction  # noqa: E402
from fido2.server import Fido2Server  # noqa: E402
from fido2.webauthn import PublicKeyCredentialRpEntity  # noqa: E402
from pbfido import free_udp_port, open_device  # noqa: E402

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
# Every wait ends by itself; the whole test is bounded by the caller's timeout too.
WAIT = 60.0


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    """The few W3C WebDriver calls this test needs, over plain HTTP."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.conn: http.client.HTTPConnection | None = None
        self.session = ""

    def _call(self, method: str, path: str, body: dict | None = None):
        # One kept-alive connection: tauri-driver drops some requests when every call opens a
        # new connection that the client closes right after (urllib's "Connection: close").
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        for attempt in range(3):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=WAIT)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
            except (http.client.HTTPException, ConnectionError) as error:
                self.conn.close()
                self.conn = None
                # Only a request that never reached the driver is safe to send again.
                if attempt == 2 or (method == "POST" and not path.endswith("/elements")
                                    and not path.endswith("/session")):
                    raise RuntimeError(f"WebDriver {method} {path}: {error!r}") from None
                time.sleep(0.2)
                continue
            value = json.loads(payload or b"{}").get("value")
            if response.status >= 400:
                raise RuntimeError(f"WebDriver {method} {path}: {response.status} {value}")
            return value
        raise RuntimeError(f"WebDriver {method} {path}: no answer")

    def start(self, application: str) -> None:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                value = self._call(
                    "POST",
                    "/session",
                    {"capabilities": {"alwaysMatch": {"browserName": "wry", "tauri:options": {"application": application}}}},
                )
                self.session = value["sessionId"]
                return
            except (RuntimeError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def quit(self) -> None:
        if self.session:
            try:
                self._call("DELETE", f"/session/{self.session}")
            except Exception:  # noqa: BLE001 - the app may already be gone
                pass

    def s(self, path: str) -> str:
        return f"/session/{self.session}{path}"

    def find_all(self, css: str) -> list[str]:
        found = self._call("POST", self.s("/elements"), {"using": "css selector", "value": css})
        return [item[ELEMENT] for item in found]

    def find(self, css: str) -> str:
        return self.wait(lambda: (self.find_all(css) or [None])[0], f"element {css}")

    def wait(self, probe, what: str, timeout: float = WAIT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = probe()
                if last:
                    return last
            except RuntimeError as error:  # stale elements while the DOM changes
                last = error
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r})")

    def click(self, css: str) -> None:
        element = self.wait(lambda: self._displayed(css), f"visible {css}")
        self._call("POST", self.s(f"/element/{element}/click"), {})

    def _displayed(self, css: str) -> str | None:
        for element in self.find_all(css):
            if self._call("GET", self.s(f"/element/{element}/displayed")):
                return element
        return None

    def visible(self, css: str) -> bool:
        return self._displayed(css) is not None

    def type(self, css: str, text: str) -> None:
        element = self.wait(lambda: self._displayed(css), f"visible {css}")
        self._call("POST", self.s(f"/element/{element}/clear"), {})
        self._call("POST", self.s(f"/element/{element}/value"), {"text": text})

    def text(self, css: str) -> str:
        elements = self.find_all(css)
        return self._call("GET", self.s(f"/element/{elements[0]}/text")) if elements else ""

    def attr(self, css: str, name: str) -> str | None:
        elements = self.find_all(css)
        if not elements:
            return None
        return self._call("GET", self.s(f"/element/{elements[0]}/attribute/{name}"))

    def select(self, css: str, value: str) -> None:
        self.click(f'{css} option[value="{value}"]')

    def script(self, source: str, *args):
        return self._call("POST", self.s("/execute/sync"), {"script": source, "args": list(args)})

    def page_text(self) -> str:
        return self.text("body")

    def screenshot(self, path: Path) -> None:
        # Let the compositor catch up with the last DOM change (a screenshot right after one
        # can show the frame before it).
        time.sleep(0.4)
        path.write_bytes(base64.b64decode(self._call("GET", self.s("/screenshot"))))


class Site(UserInteraction):
    """python-fido2 as a browser: it never asks for a PIN itself (the dialog does)."""

    def request_pin(self, permissions, rp_id):
        return None

    def request_uv(self, permissions, rp_id):
        return True


def register_at_site(key_port: int, reply_port: int, rp_id: str, result: dict) -> None:
    """A site registering ana@RP_ID through the app's security key, as a browser would; the
    verified registration (or the error) lands in `result`."""
    try:
        device = open_device(key_port, reply_port)
        server = Fido2Server(PublicKeyCredentialRpEntity(id=rp_id, name=f"Example {rp_id}"))
        options, state = server.register_begin(
            {"id": f"ana-{rp_id}".encode(), "name": f"ana@{rp_id}", "displayName": "Ana"},
            user_verification="discouraged",
            resident_key_requirement="required",
        )
        client = Fido2Client(device, client_data_collector=DefaultClientDataCollector(f"https://{rp_id}"),
                             user_interaction=Site())
        response = client.make_credential(options["publicKey"])
        result["auth"] = server.register_complete(state, response)
    except Exception as error:  # noqa: BLE001 - reported by the caller
        result["error"] = error


# The test's display, once Xvfb gave it: the probe's window commands look there.
PROBE_ENV: dict[str, str] = {}


def probe(*args: str) -> str:
    done = subprocess.run([SYSTEM_PYTHON, PROBE, *args], capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, **PROBE_ENV))
    if done.returncode != 0:
        raise RuntimeError(f"desktop_probe {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def tray_labels() -> list[str]:
    items = json.loads(probe("tray"))
    return [e["label"] for item in items for e in item["entries"] if e["label"]]


def prefers_dark(d: "WebDriver") -> bool:
    return d.script("return window.matchMedia('(prefers-color-scheme: dark)').matches;")


def main() -> int:
    binary, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pb-e2e-"))
    procs: list[subprocess.Popen] = []

    def spawn(args, log: str, env=None, **kw) -> subprocess.Popen:
        handle = open(work / log, "wb")
        proc = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, env=env, **kw)
        procs.append(proc)
        return proc

    driver = None
    try:
        # Display.
        xvfb = spawn(["Xvfb", "-displayfd", "1", "-screen", "0", "1100x800x24", "-nolisten", "tcp"], "xvfb.log")
        display = None
        deadline = time.monotonic() + 20
        while display is None and time.monotonic() < deadline:
            text = (work / "xvfb.log").read_text(errors="replace").strip()
            if text.splitlines() and text.splitlines()[0].isdigit():
                display = ":" + text.splitlines()[0]
            elif xvfb.poll() is not None:
                raise RuntimeError(f"Xvfb exited: {text}")
            time.sleep(0.1)
        if display is None:
            raise RuntimeError("Xvfb gave no display number")

        # The desktop around the window: the tray host's registry and the portal, which says
        # "dark" before the app starts.
        PROBE_ENV["DISPLAY"] = display
        desktop = spawn([SYSTEM_PYTHON, PROBE, "serve"], "desktop-probe.log", env=dict(os.environ, **PROBE_ENV))
        deadline = time.monotonic() + 20
        while "serving" not in (work / "desktop-probe.log").read_text(errors="replace"):
            if desktop.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the desktop probe did not start")
            time.sleep(0.1)
        probe("scheme", "1")

        # Relay and the phone's own profile (its passkeys survive between the two ceremonies).
        relay_port = free_tcp_port()
        relay = f"ws://127.0.0.1:{relay_port}"
        spawn([str(binary), "relay", "--listen", f"127.0.0.1:{relay_port}"], "relay.log")
        air = f"udp://127.0.0.1:{free_udp_port()}"
        phone_dir = work / "phone"
        env_phone = dict(os.environ, PASSBRIDGE_DATA_DIR=str(phone_dir))
        subprocess.run([str(binary), "profile", "create", "phone"], env=env_phone, check=True,
                       capture_output=True, timeout=60)

        # The app: its own data directory, and its security key on loopback UDP.
        key_port, reply_port = free_udp_port(), free_udp_port()
        env_app = dict(
            os.environ,
            DISPLAY=display,
            PASSBRIDGE_DATA_DIR=str(work / "app"),
            XDG_CONFIG_HOME=str(work / "config"),
            PASSBRIDGE_SECURITY_KEY=f"udp://127.0.0.1:{key_port},127.0.0.1:{reply_port}",
        )
        wd_port = free_tcp_port()
        spawn(["tauri-driver", "--port", str(wd_port), "--native-port", str(free_tcp_port()),
               "--native-driver", shutil.which("WebKitWebDriver") or "/usr/bin/WebKitWebDriver"],
              "tauri-driver.log", env=env_app)
        driver = WebDriver("127.0.0.1", wd_port)
        started = time.monotonic()
        driver.start(str(binary))
        d = driver

        # 1. First start: no profile yet; the welcome says what Passbridge is for, in the
        # system's dark theme. Then the system turns light, and so does the window.
        d.wait(lambda: d.text("#active-profile") == "No profile", "the 'No profile' header")
        print(f"window ready in {time.monotonic() - started:.1f} s (WebDriver session included)")
        d.wait(lambda: d.visible("#welcome-create"), "the welcome")
        assert "passkeys instead of passwords" in d.text("#no-profile-notice"), d.text("#no-profile-notice")
        assert prefers_dark(d), "the window is light while the system prefers dark"
        d.screenshot(out / "01-first-start-dark.png")
        probe("scheme", "2")
        d.wait(lambda: not prefers_dark(d), "the light theme after the system turned light", timeout=10)
        d.screenshot(out / "01-first-start.png")
        assert tray_labels() == ["No profile yet", "Open Passbridge", "Quit Passbridge"], tray_labels()

        # 2. Create a profile with a PIN, from the welcome: it becomes active, unlocked, empty.
        d.click("#welcome-create")
        d.type("#new-profile-name", "Ana")
        d.type("#new-profile-pin", "24682468")
        d.screenshot(out / "02-new-profile.png")
        d.click("#new-profile-create")
        d.wait(lambda: d.text("#active-profile") == "Ana", "the active profile 'Ana'")
        d.wait(lambda: d.visible("#passkeys-empty"), "the empty-list explanation")
        assert not d.find_all("li.passkey"), "a new profile lists passkeys"
        assert d.visible("#autolock"), "no auto-lock indicator for a PIN profile"
        d.screenshot(out / "03-empty-list.png")

        # 3. Settings: starting at login writes the autostart entry and removes it again; the
        # local relay and the loopback air are under Advanced.
        d.click("#tab-settings")
        entry = work / "config" / "autostart" / "org.passbridge.app.desktop"
        assert not entry.exists(), "an autostart entry before anyone asked for one"
        d.click("#set-start-at-login")
        d.click("#settings-save")
        d.wait(lambda: entry.exists(), "the autostart entry", timeout=10)
        text = entry.read_text()
        assert f'Exec="{binary}" gui --background' in text, text
        d.wait(lambda: d.attr("#settings-status", "data-state") == "ok", "settings saved")
        d.click("#set-start-at-login")
        d.click("#settings-save")
        d.wait(lambda: not entry.exists(), "the autostart entry to go", timeout=10)
        d.script("window.scrollTo(0, 0);")
        d.screenshot(out / "04-settings.png")
        d.click("#settings-advanced summary")
        d.type("#set-relay", relay)
        d.type("#set-air", air)
        d.type("#set-timeout", "60")
        d.click("#settings-save")
        d.wait(lambda: d.attr("#settings-status", "data-state") == "ok", "settings saved")
        d.screenshot(out / "04b-settings-advanced.png")

        # 4. Register on the phone through the QR code; every step shows.
        d.click("#tab-phone")
        d.select("#phone-ceremony", "register")
        d.type("#phone-site", "example.com")
        d.type("#phone-account", "ana@example.com")
        d.click("#phone-start")
        qr_url = d.wait(lambda: d.attr("#phone-qr", "data-url"), "the QR code")
        assert qr_url.startswith("FIDO:/"), qr_url
        d.screenshot(out / "05-phone-qr.png")
        phone = spawn([str(binary), "phone", "--qr", qr_url, "--relay", relay, "--air", air,
                       "--profile", "phone", "--name", "Ana's test phone", "--timeout", "60"],
                      "phone-register.log", env=env_phone)
        d.wait(lambda: d.attr("#phone-result", "data-state"), "the ceremony's result", timeout=90)
        assert d.attr("#phone-result", "data-state") == "ok", d.text("#phone-result")
        assert phone.wait(30) == 0, (work / "phone-register.log").read_text()
        for step in ["qr-shown", "phone-nearby", "relay-connected", "secure-channel",
                     "waiting-for-approval", "done"]:
            state = d.attr(f'#phone-steps li[data-step="{step}"]', "data-state")
            assert state == "done", f"step {step} is {state}"
        d.screenshot(out / "06-phone-done.png")
        d.wait(lambda: d.find_all('#phones li.phone[data-name="Ana\'s test phone"]'), "the linked phone")

        # 5. The new passkey is in the list, on the phone.
        d.click("#tab-passkeys")
        d.wait(lambda: d.find_all("li.passkey"), "the new passkey")
        assert "example.com" in d.text("li.passkey .site")
        assert "ana@example.com" in d.text("li.passkey .account")
        assert "phone" in d.text("li.passkey .location").lower()

        # 6. Sign in with the linked phone: no QR code this time.
        listener = spawn([str(binary), "phone", "--listen", "--relay", relay, "--air", air,
                          "--profile", "phone", "--name", "Ana's test phone", "--timeout", "60"],
                         "phone-listen.log", env=env_phone)
        time.sleep(1.0)  # the phone registers its contact ID at the relay
        d.click("#tab-phone")
        d.select("#phone-ceremony", "sign-in")
        d.type("#phone-site", "example.com")
        d.select("#phone-linked", "Ana's test phone")
        d.click("#phone-start")
        d.wait(lambda: d.attr("#phone-result", "data-state") and
               d.attr('#phone-steps li[data-step="done"]', "data-state") in ("done", "failed"),
               "the sign-in's result", timeout=90)
        assert d.attr("#phone-result", "data-state") == "ok", d.text("#phone-result")
        assert listener.wait(30) == 0, (work / "phone-listen.log").read_text()
        assert d.attr('#phone-steps li[data-step="contacting-phone"]', "data-state") == "done"
        assert not d.visible("#phone-qr img"), "a linked phone needed a QR code"
        d.screenshot(out / "07-phone-linked-sign-in.png")

        # 6b. The tray menu names the profile and offers to lock it. Closing the window (the
        # window manager's close button) hides it: Passbridge stays in the tray.
        d.wait(lambda: "Ana: unlocked" in tray_labels(), "the tray's 'Ana: unlocked'", timeout=40)
        assert "Lock Ana" in tray_labels(), tray_labels()
        probe("close")
        d.wait(lambda: probe("window") == "unmapped", "the window to hide", timeout=10)
        assert tray_labels()[0] == "Ana: unlocked", tray_labels()

        # 7. A site asks for a passkey through the security key while the window is hidden:
        # the window comes back with the request dialog.
        result: dict = {}

        thread = threading.Thread(target=register_at_site, args=(key_port, reply_port, "example.org", result),
                                  daemon=True)
        thread.start()
        d.wait(lambda: probe("window") == "viewable", "the hidden window to come back", timeout=30)
        d.wait(lambda: d.visible("#request-dialog"), "the request dialog")
        assert "example.org" in d.text("#request-site"), d.text("#request-site")
        assert d.text("#request-countdown").startswith("Answer within"), d.text("#request-countdown")
        assert d.text("#request-profile") == "Ana", d.text("#request-profile")
        assert "ana@example.org" in d.text("#request-dialog")
        d.screenshot(out / "08-request-dialog.png")
        d.type("#request-pin", "11111111")
        d.click("#request-approve")
        d.wait(lambda: "attempts left" in d.text("#request-dialog"), "the wrong-PIN message with the attempts left")
        d.type("#request-pin", "24682468")
        d.click("#request-approve")
        thread.join(60)
        assert "auth" in result, f"the site's registration failed: {result.get('error')!r}"
        d.wait(lambda: not d.visible("#request-dialog"), "the dialog to close")

        # 7b. Another site asks; the person answers with the phone ("Use a phone instead"):
        # the site's own request goes to the virtual phone, the window shows the QR code and
        # the steps, and the site verifies what the phone created.
        result.clear()

        thread = threading.Thread(target=register_at_site, args=(key_port, reply_port, "example.net", result),
                                  daemon=True)
        thread.start()
        d.wait(lambda: d.visible("#request-use-phone"), "the 'Use a phone instead' button")
        assert "example.net" in d.text("#request-site"), d.text("#request-site")
        d.click("#request-use-phone")
        qr_url = d.wait(lambda: d.attr("#request-phone-qr", "data-url"), "the request's QR code")
        d.screenshot(out / "09-request-phone.png")
        phone = spawn([str(binary), "phone", "--qr", qr_url, "--relay", relay, "--air", air,
                       "--timeout", "60"], "phone-forward.log", env=env_phone)
        thread.join(90)
        assert "auth" in result, f"the site's registration through the phone failed: {result.get('error')!r}"
        assert phone.wait(30) == 0, (work / "phone-forward.log").read_text()
        d.wait(lambda: d.attr("#request-phone-result", "data-state") == "ok", "the phone step's result")
        for step in ["qr-shown", "phone-nearby", "relay-connected", "secure-channel", "done"]:
            state = d.attr(f'#request-phone-steps li[data-step="{step}"]', "data-state")
            assert state == "done", f"forwarded step {step} is {state}"
        d.click("#request-phone-close")
        d.wait(lambda: not d.visible("#request-dialog"), "the dialog to close")

        # 7c. Hidden again, a second launch brings the first instance to the front and ends.
        probe("close")
        d.wait(lambda: probe("window") == "unmapped", "the window to hide", timeout=10)
        second = subprocess.run([str(binary), "gui"], env=dict(env_app, RUST_LOG="info"),
                                capture_output=True, timeout=60)
        assert second.returncode == 0, second
        # It handed over before starting anything of its own: no second security key.
        assert b"security key" not in second.stdout + second.stderr, second
        d.wait(lambda: probe("window") == "viewable", "the first window to come back", timeout=10)

        # 8. Three passkeys: example.com on the phone (Phone tab), example.org on this computer
        # (the dialog), example.net on the phone (the dialog's "Use a phone instead"). Delete
        # the example.com one, with confirmation.
        d.click("#tab-passkeys")
        d.wait(lambda: len(d.find_all("li.passkey")) == 3, "three passkeys")
        where = {}
        for element in d.find_all("li.passkey"):
            text = d._call("GET", d.s(f"/element/{element}/text"))
            site = next(rp for rp in ("example.com", "example.org", "example.net") if rp in text)
            where[site] = (d._call("GET", d.s(f"/element/{element}/attribute/data-id")), text)
        assert "This computer" in where["example.org"][1], where["example.org"][1]
        assert "A phone" in where["example.net"][1], where["example.net"][1]
        assert "Phone: Ana's test phone" in where["example.com"][1], where["example.com"][1]
        d.screenshot(out / "10-passkeys.png")
        # Readable at 200 % zoom: nothing runs off the side (no horizontal scrolling).
        d.script("document.body.style.zoom = '2';")
        time.sleep(0.3)
        width = d.script("return [document.documentElement.scrollWidth, window.innerWidth];")
        assert width[0] <= width[1], f"at 200 % the page is {width[0]} px wide in a {width[1]} px window"
        d.screenshot(out / "13-zoom-200.png")
        d.script("document.body.style.zoom = '';")
        item_id = where["example.com"][0]
        d.click(f'li.passkey[data-id="{item_id}"] .delete')
        d.wait(lambda: d.visible("#confirm-delete"), "the delete confirmation")
        d.screenshot(out / "11-confirm-delete.png")
        d.click("#confirm-delete-yes")
        d.wait(lambda: len(d.find_all("li.passkey")) == 2, "two passkeys left")
        assert not d.find_all(f'li.passkey[data-id="{item_id}"]')

        # 8b. Diagnostics: the doctor's checks in the window, in the command line's words.
        # On the network only the local relay (the test never leaves loopback): each step is
        # shown as it runs, then the relay's line and the clock's.
        d.click("#tab-diagnostics")
        d.click("#diagnostics-only-relay")
        d.click("#diagnostics-run")
        d.wait(lambda: d.find_all('li.check[data-area="clock"]'), "the network checks")
        assert d.attr('li.check[data-area="keychain"]', "data-status") == "pass", d.text("#diagnostics")
        assert '"Ana" (keychain and PIN): ready' in d.text("#diagnostics"), d.text("#diagnostics")
        network = d.text('li.check[data-area="network"]')
        assert f"relay 127.0.0.1:{relay_port}: reachable (name lookup" in network, network
        assert d.attr('li.check[data-area="network"]', "data-status") == "pass", network
        assert "passed" in d.text("#diagnostics-summary"), d.text("#diagnostics-summary")
        # 8c. The cross-device test with the virtual phone, through the relay the settings
        # name, then "Export report": the page's checks and the test in one file.
        d.click("#diagnostics-virtual-phone")
        d.click("#diagnostics-test")
        d.wait(lambda: d.visible("#diagnostics-test-result"), "the cross-device test's verdict", timeout=60)
        verdict = d.text("#diagnostics-test-result")
        assert d.attr("#diagnostics-test-result", "data-state") == "ok", verdict
        assert "Passed: a registration and a sign-in with the virtual phone" in verdict, verdict
        assert f"ws://127.0.0.1:{relay_port}" in verdict, verdict
        d.click("#diagnostics-export")
        d.wait(lambda: d.text("#diagnostics-report-path"), "the exported report's path")
        report_html = Path(d.text("#diagnostics-report-path"))
        report_data = json.loads(report_html.with_name("report.json").read_text())
        assert report_data["cross_device_test"]["passed"] is True, report_data
        assert any(c["area"] == "network" for c in report_data["checks"]), report_data["checks"]
        d.script("document.getElementById('diagnostics-exported').scrollIntoView({block: 'end'});")
        d.screenshot(out / "14-diagnostics.png")
        d.click("#tab-passkeys")

        # 9. Lock from the tray: the window shows it at once (well before its 15 s refresh),
        # and nothing of the profile is shown.
        probe("click", "Lock Ana")
        d.wait(lambda: d.visible("#unlock-pin"), "the PIN field of the locked profile", timeout=8)
        d.wait(lambda: d.visible("#locked-notice"), "the locked notice")
        assert "“Ana” is locked" in d.text("#unlock-form"), d.text("#unlock-form")
        d.wait(lambda: "Ana: locked" in tray_labels(), "the tray's 'Ana: locked'", timeout=10)
        assert "Lock Ana" not in tray_labels(), tray_labels()
        assert not d.find_all("li.passkey"), "a locked profile still lists passkeys"
        text = d.page_text()
        for secret in ("ana@example", "example.org", "example.com"):
            assert secret not in text, f"the locked window shows {secret!r}"
        d.screenshot(out / "12-locked.png")

        # 9b. The exported report in this WebKit webview, opened as the file it is (offline,
        # nothing to fetch): its timeline and checks. Last, since it leaves the app's page.
        d._call("POST", d.s("/url"), {"url": report_html.as_uri()})
        d.wait(lambda: "Cross-device test" in d.page_text(), "the report page in the webview")
        assert "verified" in d.page_text(), d.page_text()
        assert d.find_all("svg.timeline"), "no timeline chart in the report"
        d.script("window.scrollTo(0, 0);")
        d.screenshot(out / "15-report.png")

        # 10. Quit from the tray: the app ends, window and all.
        probe("click", "Quit Passbridge")
        d.wait(lambda: probe("window") == "none", "the app to end", timeout=20)

        # 11. As at login (the autostart entry's command): the tray and the key, no window
        # until the tray's Open.
        background = spawn([str(binary), "gui", "--background"], "background.log", env=env_app)
        d.wait(lambda: "Open Passbridge" in tray_labels(), "the tray icon of the background start", timeout=30)
        assert "Ana: locked" in tray_labels(), tray_labels()
        assert probe("window") in ("unmapped", "none"), probe("window")
        probe("click", "Open Passbridge")
        d.wait(lambda: probe("window") == "viewable", "the window after the tray's Open", timeout=15)
        probe("click", "Quit Passbridge")
        assert background.wait(20) == 0, (work / "background.log").read_text()
        print(f"e2e: every step passed; screenshots in {out}")
        return 0
    except Exception:
        if driver and driver.session:
            try:
                driver.screenshot(out / "failure.png")
            except Exception:  # noqa: BLE001
                pass
        for log in sorted(work.glob("*.log")):
            shutil.copy(log, out / log.name)
            print(f"--- {log.name} (whole log in {out})", file=sys.stderr)
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        if driver:
            driver.quit()
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
