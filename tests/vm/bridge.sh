#!/usr/bin/env bash
# bridge.sh PASSBRIDGE_BIN PYTHON: `passbridge bridge` as a virtual USB security key over the
# kernel's uhid, inside the VM, driven by clients nobody here wrote: libfido2's tools
# (fido2-token -L/-I, fido2-cred -M, fido2-assert -G, both verified), OpenSSH (ssh-keygen -t
# ecdsa-sk -O resident, then ssh-keygen -K after a PIN is set), and python-fido2 over hidraw
# (tests/vm/bridge_client.py, checked by Fido2Server, then credential management), and
# ctap-hid-fido2 (the crate: getInfo and credential management, tests/src/bin/ctap-hid-probe.rs);
# plus the hidraw latency of a local getAssertion (tests/vm/latency.py). The ctap-hid-probe
# binary must sit next to PASSBRIDGE_BIN (cargo build -p integration-tests --bin ctap-hid-probe).
# PYTHON must have fido2 installed (./dev's .venv). Exit 77 = no VM here.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
py=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
[ -x "$bin" ] || { echo "bridge.sh: no binary at $1" >&2; exit 2; }

if [ "${3:-}" != --in-guest ]; then
    exec "$HERE/run.sh" "$HERE/guest-uhid.sh" "$HERE/bridge.sh" "$bin" "$py" --in-guest
fi

# --- inside the VM, /dev/uhid present ---
work=$(mktemp -d)
cd "$work"
step() { echo "bridge.sh: $*"; }
die() { echo "bridge.sh: FAIL: $*" >&2; exit 1; }
# No display here, so nobody could answer a prompt: the admin policy grants presence (never
# verification) to the test sites only. Every other site would be refused after no answer.
printf 'silent_presence_rps = ["example.org", "ssh:", "bridge.example"]\n' > policy.toml
export PASSBRIDGE_POLICY=$work/policy.toml PASSBRIDGE_DATA_DIR=$work/data RUST_LOG=${RUST_LOG:-warn}

"$bin" bridge </dev/null >bridge.out 2>&1 & bridge=$!
trap 'kill $bridge 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q 'is ready' bridge.out && break; sleep 0.2; done
grep -q 'is ready' bridge.out || { cat bridge.out >&2; die "the bridge did not start"; }
cat bridge.out

# libfido2: list, getInfo.
# (libfido2 reads maker and product strings from a USB parent, which a uhid device has not, so
# it lists the key by its IDs; the kernel's HID_NAME carries the name.)
for _ in $(seq 50); do list=$(fido2-token -L 2>&1 || true); [[ $list == *vendor=0x1209* ]] && break; sleep 0.2; done
step "fido2-token -L: $list"
[[ $list == *"vendor=0x1209, product=0x0001"* ]] || die "fido2-token -L does not list the key"
dev=${list%%:*}
name=$(grep HID_NAME "/sys/class/hidraw/${dev#/dev/}/device/uevent")
step "kernel: $name"
[[ $name == "HID_NAME=Passbridge virtual FIDO key" ]] || die "wrong device name: $name"
info=$(fido2-token -I "$dev")
step "fido2-token -I: $(grep -E 'version strings|aaguid|options' <<<"$info" | tr '\n' ' ')"
[[ $info == *FIDO_2_1* && $info == *rk* && $info == *credMgmt* ]] || die "getInfo lacks FIDO_2_1/rk/credMgmt: $info"

# libfido2: a resident credential, made and verified, then a discoverable assertion verified.
b64() { printf '%s' "$1" | openssl dgst -sha256 -binary | base64; }
printf '%s\n%s\n%s\n%s\n' "$(b64 reg)" example.org erika "$(printf 'user-id-erika' | base64)" > cred.in
fido2-cred -M -r -i cred.in "$dev" es256 > cred.out || die "fido2-cred -M"
fido2-cred -V -i cred.out -o pub.pem es256 || die "fido2-cred -V"
printf '%s\n%s\n' "$(b64 login)" example.org > assert.in
fido2-assert -G -r -i assert.in "$dev" > assert.out || die "fido2-assert -G"
fido2-assert -V -i assert.out pub.pem es256 || die "fido2-assert -V"
step "fido2-cred -M -r / fido2-assert -G -r: resident credential made and assertion verified"

# Latency: getAssertion request -> response through hidraw and uhid, no prompt (example.org is a
# silent-presence RP here), before a PIN exists. The VM's CPU is emulated (TCG): this figure
# is the emulation's as much as ours; docs/benchmarks.md puts it next to the host's UDP figure.
"$py" "$HERE/latency.py" hidraw example.org 200 || die "latency measurement"

# OpenSSH: a resident ecdsa-sk key (RP "ssh:"), before any PIN exists.
ssh-keygen -q -t ecdsa-sk -O resident -f id_sk -N '' </dev/null || die "ssh-keygen -t ecdsa-sk -O resident"
step "ssh-keygen -t ecdsa-sk -O resident: $(cut -d' ' -f1,2 id_sk.pub | cut -c1-60)…"

# python-fido2 over hidraw; it sets the PIN and lists resident keys with credential management.
PIN=4711-bridge
"$py" "$HERE/bridge_client.py" "$PIN" example.org ssh: bridge.example || die "python-fido2 over hidraw"

# ctap-hid-fido2 (an independent Rust client for USB keys): getInfo, then credential
# management with the PIN lists the resident keys the other clients made.
"$(dirname "$bin")/ctap-hid-probe" "$PIN" example.org ssh: bridge.example || die "ctap-hid-fido2"

# OpenSSH again: retrieve the resident key; the PIN comes through SSH_ASKPASS (no terminal).
printf '#!/bin/sh\necho %s\n' "$PIN" > askpass; chmod +x askpass
mkdir rk && (cd rk && SSH_ASKPASS=$work/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
    setsid ssh-keygen -K </dev/null) || die "ssh-keygen -K"
ls rk/id_ecdsa_sk_rk* >/dev/null 2>&1 || die "ssh-keygen -K wrote no key"
cmp <(cut -d' ' -f2 id_sk.pub) <(cut -d' ' -f2 rk/id_ecdsa_sk_rk*.pub) || die "ssh-keygen -K returned another key"
step "ssh-keygen -K: the resident key came back, same public key"

kill -0 $bridge || die "the bridge died"
kill $bridge; wait $bridge 2>/dev/null || true

# --- the bridge forwarding to a phone: relay and virtual phone on loopback, the phone's
# passkeys in a keychain profile (gnome-keyring in a private D-Bus session, as ./dev does) ---
ip link set lo up
"$bin" relay --listen 127.0.0.1:0 >relay.out 2>&1 & relay_pid=$!
trap 'kill $bridge $relay_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do relay=$(grep -o 'ws://[0-9.:]*' relay.out || true); [ -n "$relay" ] && break; sleep 0.2; done
[ -n "$relay" ] || die "relay did not start"
air=udp://127.0.0.1:47111
"$bin" bridge --phone --phone-relay "$relay" --phone-air "$air" --phone-timeout 60 </dev/null \
    >bridge-phone.out 2>bridge-phone.err & bridge=$!
for _ in $(seq 100); do grep -q 'go to your phone' bridge-phone.out && break; sleep 0.2; done
grep -q 'go to your phone' bridge-phone.out || { cat bridge-phone.out bridge-phone.err >&2; die "bridge --phone did not start"; }
mkdir -p home
HOME=$work/home dbus-run-session -- sh -c '
    printf passbridge-test | gnome-keyring-daemon --components=secrets --daemonize --unlock >/dev/null
    "$1" profile create Phone >/dev/null && exec "$2" "$3" "$1" "$4" "$5" "$6"' sh \
    "$bin" "$py" "$HERE/bridge_phone.py" "$relay" "$air" "$work/bridge-phone.err" \
    || { grep -v '^[ █▀▄]*$' bridge-phone.err >&2; die "forwarding to the phone"; }
grep -E '^phone: ' bridge-phone.err | head -20
step "PASS"
