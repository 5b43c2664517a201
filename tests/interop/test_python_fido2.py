"""Passbridge's authenticator driven by Yubico's python-fido2 (PyPI `fido2`), over UDP CTAPHID.

Each test plays a user or relying party: registrations and sign-ins are checked by fido2's own
`Fido2Server` (signature, RP ID hash, challenge, flags), not by our code.
"""

from __future__ import annotations

import os

import pytest
from fido2.client import ClientError, DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2
from fido2.server import Fido2Server
from fido2.utils import websafe_encode
from fido2.webauthn import PublicKeyCredentialDescriptor, PublicKeyCredentialType

from pbfido import Authenticator

RP = {"id": "example.com", "name": "Example RP"}
ORIGIN = "https://example.com"
PIN = "4711-pass"


class PinInteraction(UserInteraction):
    def __init__(self, pin: str | None):
        self.pin = pin

    def request_pin(self, permissions, rp_id):
        return self.pin

    def request_uv(self, permissions, rp_id):
        return True


@pytest.fixture
def authenticator():
    auth = Authenticator()
    yield auth
    auth.stop()


def client_for(device, pin: str | None = None) -> Fido2Client:
    return Fido2Client(
        device,
        client_data_collector=DefaultClientDataCollector(ORIGIN),
        user_interaction=PinInteraction(pin),
    )


def register(client: Fido2Client, server: Fido2Server, user: dict, **kwargs):
    # Without a PIN there is no way to verify the user, and python-fido2 (like browsers)
    # refuses "preferred" UV on an authenticator that could but is not set up to.
    kwargs.setdefault("user_verification", "discouraged")
    options, state = server.register_begin(user, **kwargs)
    result = client.make_credential(options["publicKey"])
    return server.register_complete(state, result).credential_data


def sign_in(client: Fido2Client, server: Fido2Server, credentials, **kwargs):
    kwargs.setdefault("user_verification", "discouraged")
    options, state = server.authenticate_begin(credentials, **kwargs)
    selection = client.get_assertion(options["publicKey"])
    response = selection.get_response(0)
    server.authenticate_complete(state, credentials, response)
    return response


def test_get_info_is_honest(authenticator):
    info = Ctap2(authenticator.device()).info
    assert "FIDO_2_1" in info.versions
    assert info.aaguid != bytes(16)
    assert info.options.get("rk") is True
    assert info.options.get("up") is True
    assert info.options.get("clientPin") is False  # no PIN yet
    assert info.options.get("credMgmt") is True
    assert {"alg": -7, "type": "public-key"} in info.algorithms
    assert "hmac-secret" in info.extensions and "credProtect" in info.extensions
    assert set(info.pin_uv_protocols) >= {1, 2}


def test_register_and_sign_in_verified_by_fido2_server(authenticator):
    device = authenticator.device()
    client = client_for(device)
    server = Fido2Server(RP)
    cred = register(client, server, {"id": b"user-1", "name": "alice"})
    assert len(cred.credential_id) >= 16
    response = sign_in(client, server, [cred])
    # A second sign-in must carry a higher signature counter.
    first = response.response.authenticator_data.counter
    second = sign_in(client, server, [cred]).response.authenticator_data.counter
    assert second > first


def test_excluded_credential_is_refused(authenticator):
    device = authenticator.device()
    client = client_for(device)
    server = Fido2Server(RP)
    cred = register(client, server, {"id": b"user-2", "name": "bob"})
    options, _state = server.register_begin(
        {"id": b"user-2", "name": "bob"}, credentials=[cred], user_verification="discouraged"
    )
    with pytest.raises(ClientError) as raised:
        client.make_credential(options["publicKey"])
    # The client reports DEVICE_INELIGIBLE; the authenticator's own answer is the cause.
    assert raised.value.code == ClientError.ERR.DEVICE_INELIGIBLE
    assert isinstance(raised.value.cause, CtapError)
    assert raised.value.cause.code == CtapError.ERR.CREDENTIAL_EXCLUDED


@pytest.mark.parametrize("protocol", [PinProtocolV1, PinProtocolV2])
def test_pin_set_change_and_token(authenticator, protocol):
    ctap2 = Ctap2(authenticator.device())
    pin = ClientPin(ctap2, protocol())
    pin.set_pin(PIN)
    assert Ctap2(authenticator.device()).info.options["clientPin"] is True
    assert pin.get_pin_retries()[0] == 8
    token = pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, RP["id"])
    assert len(token) in (16, 32)
    pin.change_pin(PIN, "new-pin-0815")
    with pytest.raises(CtapError) as raised:
        pin.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, RP["id"])
    assert raised.value.code == CtapError.ERR.PIN_INVALID
    pin.get_pin_token("new-pin-0815", ClientPin.PERMISSION.GET_ASSERTION, RP["id"])
    assert pin.get_pin_retries()[0] == 8  # a correct PIN restores the counter


def test_user_verified_registration_with_pin(authenticator):
    device = authenticator.device()
    ClientPin(Ctap2(device)).set_pin(PIN)
    client = client_for(device, PIN)
    server = Fido2Server(RP)
    cred = register(client, server, {"id": b"user-3", "name": "carol"}, user_verification="required")
    response = sign_in(client, server, [cred], user_verification="required")
    assert response.response.authenticator_data.is_user_verified()


def test_wrong_pin_counts_down_and_blocks(authenticator):
    ctap2 = Ctap2(authenticator.device())
    ClientPin(ctap2).set_pin(PIN)
    attempts_left = 8
    for boot in range(3):
        pin = ClientPin(Ctap2(authenticator.device()))
        for attempt in range(3):
            with pytest.raises(CtapError) as raised:
                pin.get_pin_token("wrong-pin", ClientPin.PERMISSION.GET_ASSERTION, RP["id"])
            attempts_left -= 1
            if attempts_left == 0:
                assert raised.value.code == CtapError.ERR.PIN_BLOCKED
                break
            if attempt < 2:
                assert raised.value.code == CtapError.ERR.PIN_INVALID
            else:
                # Third mismatch in one power cycle: blocked until the next power cycle.
                assert raised.value.code == CtapError.ERR.PIN_AUTH_BLOCKED
            assert pin.get_pin_retries()[0] == attempts_left
        if attempts_left == 0:
            break
        with pytest.raises(CtapError) as raised:
            pin.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, RP["id"])
        assert raised.value.code == CtapError.ERR.PIN_AUTH_BLOCKED
        authenticator.power_cycle()
    assert attempts_left == 0
    pin = ClientPin(Ctap2(authenticator.device()))
    with pytest.raises(CtapError) as raised:
        pin.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, RP["id"])
    assert raised.value.code == CtapError.ERR.PIN_BLOCKED


def test_resident_keys_list_and_delete(authenticator):
    device = authenticator.device()
    ctap2 = Ctap2(device)
    ClientPin(ctap2).set_pin(PIN)
    client = client_for(device, PIN)
    server = Fido2Server(RP)
    names = ["dora", "emil"]
    creds = [
        register(client, server, {"id": name.encode(), "name": name, "displayName": name.title()},
                 resident_key_requirement="required", user_verification="required")
        for name in names
    ]
    pin = ClientPin(ctap2)
    token = pin.get_pin_token(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT)
    credman = CredentialManagement(ctap2, pin.protocol, token)
    assert credman.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 2
    rps = credman.enumerate_rps()
    assert [rp[CredentialManagement.RESULT.RP]["id"] for rp in rps] == ["example.com"]
    listed = credman.enumerate_creds(rps[0][CredentialManagement.RESULT.RP_ID_HASH])
    assert sorted(c[CredentialManagement.RESULT.USER]["name"] for c in listed) == names
    credman.delete_cred(
        PublicKeyCredentialDescriptor(type=PublicKeyCredentialType.PUBLIC_KEY, id=creds[0].credential_id)
    )
    listed = credman.enumerate_creds(rps[0][CredentialManagement.RESULT.RP_ID_HASH])
    assert [c[CredentialManagement.RESULT.USER]["name"] for c in listed] == ["emil"]
    # The deleted credential can no longer sign in.
    with pytest.raises(Exception):
        sign_in(client, server, [creds[0]])
    sign_in(client, server, [creds[1]])


def test_prf_outputs_are_stable_per_salt(authenticator):
    device = authenticator.device()
    client = client_for(device)
    server = Fido2Server(RP)
    options, state = server.register_begin({"id": b"user-4", "name": "fred"}, user_verification="discouraged")
    result = client.make_credential({**options["publicKey"], "extensions": {"prf": {}}})
    assert result.client_extension_results["prf"]["enabled"] is True
    cred = server.register_complete(state, result).credential_data

    def prf(salt: bytes) -> bytes:
        options, state = server.authenticate_begin([cred], user_verification="discouraged")
        selection = client.get_assertion(
            {**options["publicKey"], "extensions": {"prf": {"eval": {"first": websafe_encode(salt)}}}}
        )
        response = selection.get_response(0)
        server.authenticate_complete(state, [cred], response)
        return response.client_extension_results.prf.results.first

    salt_a, salt_b = os.urandom(32), os.urandom(32)
    out_a = prf(salt_a)
    assert len(out_a) == 32
    assert prf(salt_a) == out_a
    assert prf(salt_b) != out_a
