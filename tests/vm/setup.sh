#!/usr/bin/env bash
# Idempotent installer for the QEMU VM harness (how it works: tests/vm/README.md).
# Fast path (~0.2 s): when every package and the venv are present it only checks.
# -q: print nothing when there is nothing to do (run.sh calls this before every boot).
set -euo pipefail

QUIET=0; [ "${1:-}" = -q ] && QUIET=1
note() { [ "$QUIET" = 1 ] || echo "setup: $*"; }
VENV="${PASSBRIDGE_VM_VENV:-$HOME/.cache/passbridge/venv-vm}"
VNG_PIN="virtme-ng==1.42"   # pinned: vng's CLI flags and exit-code behaviour change between releases
# python3-venv: Debian's python3 cannot create a venv without it.
PKGS=(qemu-system-x86 linux-image-amd64 busybox-static bluez bluez-test-tools dbus
      fido2-tools openssh-client python3-venv)

# dpkg-query is much faster than apt; only touch apt (and its update) when something is missing.
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    note "all Debian packages present"
fi

# Debian's python (not a pyenv shim) so the venv also works inside the guest, which sees the
# same root. Version via importlib, not `pip show | grep -q`: under pipefail grep's early exit
# SIGPIPEs pip and the check fails spuriously.
have=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("virtme-ng"))' 2>/dev/null || true)
if [ -x "$VENV/bin/vng" ] && [ "$have" = "${VNG_PIN#*==}" ]; then
    note "$VNG_PIN already in $VENV"
else
    echo "setup: installing $VNG_PIN into $VENV"
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "$VNG_PIN"
fi
note "kernel $(ls /boot/vmlinuz-*-amd64 | sort -V | tail -n1)"
