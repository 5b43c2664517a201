"""Passbridge's authenticator driven by libfido2's command-line tools (Debian `fido2-tools`).

The tools are unmodified; an LD_PRELOAD shim (fido2_shim.c) gives them UDP I/O for device paths
"udp:PORT". Verification (`-V`) is libfido2's own, offline code.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pbfido import Authenticator

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.skipif(shutil.which("fido2-token") is None, reason="fido2-tools not installed")


@pytest.fixture(scope="module")
def shim(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shim") / "fido2_shim.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(out), str(HERE / "fido2_shim.c"), "-ldl"], check=True)
    return out


@pytest.fixture
def authenticator():
    # fido2-cred prints an attestation signature, so use packed self-attestation here.
    auth = Authenticator(["--attestation", "packed-self"])
    yield auth
    auth.stop()


def run_tool(shim: Path, auth: Authenticator, args: list[str], stdin: str | None = None) -> str:
    env = dict(os.environ, LD_PRELOAD=str(shim), PB_REPLY_PORT=str(auth.reply_port))
    result = subprocess.run(args, input=stdin, capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 0, f"{args[0]} failed: {result.stderr}"
    return result.stdout


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_token_info(shim, authenticator):
    out = run_tool(shim, authenticator, ["fido2-token", "-I", f"udp:{authenticator.port}"])
    assert "FIDO_2_1" in out
    assert "hmac-secret" in out and "credProtect" in out
    assert "rk" in out and "clientPin" in out


def test_make_and_verify_resident_credential_then_assert(shim, authenticator, tmp_path):
    device = f"udp:{authenticator.port}"
    cdh = hashlib.sha256(b"client data for registration").digest()
    cred_in = "\n".join([b64(cdh), "example.org", "erika", b64(b"user-id-erika")]) + "\n"
    cred_out = run_tool(shim, authenticator, ["fido2-cred", "-M", "-r", "-i", "/dev/stdin", device], cred_in)
    pubkey = tmp_path / "pub.pem"
    # libfido2 verifies the attestation object (fmt none or packed self) itself.
    run_tool(shim, authenticator, ["fido2-cred", "-V", "-i", "/dev/stdin", "-o", str(pubkey)], cred_out)
    # -o writes the credential ID line, then the public key in PEM.
    assert "-----BEGIN PUBLIC KEY-----" in pubkey.read_text()

    # Resident credential: no credential ID needed, the authenticator finds it by RP ID.
    cdh2 = hashlib.sha256(b"client data for sign-in").digest()
    assert_in = "\n".join([b64(cdh2), "example.org"]) + "\n"
    assert_out = run_tool(shim, authenticator, ["fido2-assert", "-G", "-r", "-i", "/dev/stdin", device], assert_in)
    run_tool(shim, authenticator, ["fido2-assert", "-V", "-i", "/dev/stdin", str(pubkey), "es256"], assert_out)

    # A signature over different client data must not verify.
    lines = assert_out.splitlines()
    lines[0] = b64(hashlib.sha256(b"something else").digest())
    env = dict(os.environ)
    bad = subprocess.run(["fido2-assert", "-V", "-i", "/dev/stdin", str(pubkey), "es256"],
                         input="\n".join(lines) + "\n", capture_output=True, text=True, env=env, timeout=30)
    assert bad.returncode != 0
