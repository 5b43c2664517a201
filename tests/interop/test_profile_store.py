"""The UDP authenticator on a real profile vault (`--profile NAME`), driven by python-fido2.

A person registers a discoverable passkey through the authenticator, the process ends, and the
passkey is still there the next time: in `passkeys list`, and usable for a sign-in checked by
fido2's own `Fido2Server`. Another profile on the same machine sees none of it.

Needs a reachable Secret Service (the README's test command runs this inside
`dbus-run-session` with an unlocked gnome-keyring); without one it is skipped, unless
PASSBRIDGE_REQUIRE_SECRET_SERVICE=1 says it must run.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from fido2.client import ClientError, DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapError
from fido2.server import Fido2Server

from pbfido import Authenticator, binary

RP = {"id": "example.com", "name": "Example RP"}
ORIGIN = "https://example.com"

if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
    if os.environ.get("PASSBRIDGE_REQUIRE_SECRET_SERVICE") == "1":
        raise RuntimeError("PASSBRIDGE_REQUIRE_SECRET_SERVICE=1 but no D-Bus session bus")
    pytest.skip("no D-Bus session bus, so no Secret Service", allow_module_level=True)


class Approve(UserInteraction):
    def request_pin(self, permissions, rp_id):
        return None

    def request_uv(self, permissions, rp_id):
        return True


def passbridge(data_dir, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PASSBRIDGE_DATA_DIR=str(data_dir))
    env.pop("PASSBRIDGE_PIN", None)
    return subprocess.run([binary(), *args], env=env, capture_output=True, text=True, timeout=60)


def client_for(device) -> Fido2Client:
    return Fido2Client(
        device,
        client_data_collector=DefaultClientDataCollector(ORIGIN),
        user_interaction=Approve(),
    )


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSBRIDGE_DATA_DIR", str(tmp_path))
    for name in ("Alice", "Bob"):
        created = passbridge(tmp_path, "profile", "create", name)
        assert created.returncode == 0, created.stderr
    yield tmp_path
    for name in ("Alice", "Bob"):
        passbridge(tmp_path, "profile", "delete", name, "--yes")


def test_passkey_survives_restart_and_stays_in_its_profile(data_dir):
    server = Fido2Server(RP)
    user = {"id": b"alice-id", "name": "alice@example.com", "displayName": "Alice"}

    auth = Authenticator(["--profile", "Alice"])
    try:
        options, state = server.register_begin(
            user, resident_key_requirement="required", user_verification="discouraged"
        )
        result = client_for(auth.device()).make_credential(options["publicKey"])
        credential = server.register_complete(state, result).credential_data
    finally:
        auth.stop()

    listed = passbridge(data_dir, "passkeys", "list", "--profile", "Alice", "--json")
    assert listed.returncode == 0, listed.stderr
    passkeys = json.loads(listed.stdout)
    assert len(passkeys) == 1
    assert passkeys[0]["rp_id"] == "example.com"
    assert passkeys[0]["user_name"] == "alice@example.com"
    assert passkeys[0]["discoverable"] is True
    assert bytes(passkeys[0]["credential_id"]) == credential.credential_id

    bob = passbridge(data_dir, "passkeys", "list", "--profile", "Bob", "--json")
    assert bob.returncode == 0, bob.stderr
    assert json.loads(bob.stdout) == []

    # A new process on the same profile: a discoverable sign-in (no allow list) finds it.
    auth = Authenticator(["--profile", "Alice"])
    try:
        options, state = server.authenticate_begin(user_verification="discouraged")
        selection = client_for(auth.device()).get_assertion(options["publicKey"])
        response = selection.get_response(0)
        server.authenticate_complete(state, [credential], response)
        assert response.response.authenticator_data.counter >= 1
    finally:
        auth.stop()

    used = json.loads(passbridge(data_dir, "passkeys", "list", "--profile", "Alice", "--json").stdout)
    assert used[0]["use_count"] == 1
    assert used[0]["last_used"] is not None

    # Bob's authenticator has nothing for this site.
    auth = Authenticator(["--profile", "Bob"])
    try:
        options, _ = server.authenticate_begin(user_verification="discouraged")
        with pytest.raises(ClientError) as failure:
            client_for(auth.device()).get_assertion(options["publicKey"])
        assert failure.value.cause.code == CtapError.ERR.NO_CREDENTIALS
    finally:
        auth.stop()


def test_unknown_profile_is_a_plain_error(data_dir):
    args = ["authenticator", "serve", "--udp", "--listen", "127.0.0.1:0", "--reply-to",
            "127.0.0.1:9", "--profile", "Nobody"]
    result = passbridge(data_dir, *args)
    assert result.returncode != 0
    assert "Nobody" in result.stderr
    assert "listening" not in result.stdout
