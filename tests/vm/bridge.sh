#!/usr/bin/env bash
# bridge.sh PASSBRIDGE_BIN PYTHON: `passbridge bridge` as a virtual USB security key over the
# kernel's uhid, inside the VM, driven by clients nobody here wrote: libfido2's tools
# (fido2-token -L/-I, fido2-cred -M, fido2-assert -G, both verified), OpenSSH (ssh-keygen -t
# ecdsa-sk -O resident, then ssh-keygen -K after a PIN is set), and python-fido2 over hidraw
# (tests/vm/bridge_client.py, checked by Fido2Server, then credential management), and
# ctap-hid-fido2 (the crate: getInfo and credential management, tests/src/bin/ctap-hid-probe.rs);
# plus the hidraw latency of a local getAssertion (tests/vm/latency.py); then the privileged
# helper (a user without /dev/uhid gets a key) and the seat check across a user switch. The ctap-hid-probe
# binary must sit next to PASSBRIDGE_BIN (cargo build -p integration-tests --bin ctap-hid-probe).
# PYTHON must have fido2 installed (./dev's .venv). Exit 77 = no VM here.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
py=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
[ -x "$bin" ] || { echo "bridge.sh: no binary at $1" >&2; exit 2; }

if [ "${3:-}" != --in-guest ]; then
    # Five clients, the helper and the seat, then the phone: more than run.sh's default 300 s
    # under TCG.
    PASSBRIDGE_VM_TIMEOUT=${PASSBRIDGE_VM_TIMEOUT:-600} \
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

# --- the privileged helper and the seat. No user opens /dev/uhid: the helper (as root)
# creates the key for the uid that connects and relays reports. The key answers only while its
# owner's login session is the active one on the seat. No systemd or logind runs here, so the
# helper listens by itself and python-dbusmock's logind template, on a private bus, stands in
# for logind: Ana (uid 1000) runs Passbridge, Ben (uid 1001) is switched in and back out. ---
chmod 755 "$work"; chmod 644 policy.toml
RUST_LOG=info "$bin" uhid-helper --listen /run/passbridge-uhid.sock >helper.out 2>&1 & helper=$!
# A bus that other users may join (a session bus admits only its owner).
cat >bus.conf <<EOF_BUS
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$work/system_bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF_BUS
dbus-daemon --config-file=bus.conf --nofork --print-address=1 >bus.addr 2>/dev/null & busd=$!
trap 'kill $bridge $helper $busd ${mock:-} ${ana:-} 2>/dev/null || true' EXIT
# A debug binary under TCG takes seconds to start.
for _ in $(seq 300); do [ -S /run/passbridge-uhid.sock ] && [ -s bus.addr ] && break; sleep 0.1; done
[ -S /run/passbridge-uhid.sock ] || { cat helper.out >&2; die "the uhid helper did not start"; }
sysbus=$(head -1 bus.addr)
[ -n "$sysbus" ] || die "the private bus did not start"
step "helper listening; a private bus at $sysbus; starting the mock logind"
DBUS_SYSTEM_BUS_ADDRESS=$sysbus /usr/bin/python3 -m dbusmock --system --template logind >mock.out 2>&1 & mock=$!
# Python under TCG is slow to start.
for _ in $(seq 300); do
    kill -0 $mock 2>/dev/null || { cat mock.out >&2; die "the mock logind (python3-dbusmock) exited"; }
    dbus-send --bus="$sysbus" --reply-timeout=2000 --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.login1 2>/dev/null | grep -q true && break
    sleep 0.2
done
step "mock logind up"
logind() { dbus-send --bus="$sysbus" --reply-timeout=10000 --print-reply --dest=org.freedesktop.login1 "$@" >/dev/null; }
logind /org/freedesktop/login1 org.freedesktop.DBus.Mock.AddSession string:c1 string:seat0 uint32:1000 string:ana boolean:true
logind /org/freedesktop/login1 org.freedesktop.DBus.Mock.AddSession string:c2 string:seat0 uint32:1001 string:ben boolean:false
switch_to() {
    logind "/org/freedesktop/login1/session/$2" org.freedesktop.DBus.Properties.Set \
        string:org.freedesktop.login1.Session string:Active variant:boolean:false
    logind "/org/freedesktop/login1/session/$1" org.freedesktop.DBus.Properties.Set \
        string:org.freedesktop.login1.Session string:Active variant:boolean:true
    sleep 1.5   # Passbridge asks logind again every half second
}
as_ana() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
if as_ana sh -c ': <>/dev/uhid' 2>/dev/null; then die "uid 1000 can open /dev/uhid"; fi
step "uid 1000 cannot open /dev/uhid"
mkdir -m 777 ana
# Ana runs her own copy: the build's binary may sit under a directory only root can enter (CI
# builds under /root/.cache).
install -m 755 "$bin" "$work/passbridge"
# passbridge doctor on the real kernel: root opens /dev/uhid itself; Ana, who cannot, is told
# the key starts through the helper. (Neither has a keychain here: doctor exits 1 for that.)
key_findings() {
    /usr/bin/python3 -c 'import json, sys
r = json.load(sys.stdin)
print(" ".join(c["finding"] for c in r["checks"] if c["area"] == "security-key"))'
}
root_says=$("$bin" doctor --json --offline | key_findings) || true
[[ $root_says == "uhid-open "* ]] || die "doctor as root: $root_says"
ana_says=$(as_ana env HOME="$work/ana" PASSBRIDGE_DATA_DIR="$work/ana/data" "$work/passbridge" doctor --json --offline \
    | key_findings) || true
[[ $ana_says == "uhid-helper "* ]] || die "doctor as Ana: $ana_says"
step "doctor: root opens /dev/uhid ($root_says); Ana goes through the helper ($ana_says)"
# setpriv itself, not the as_ana function: $! must be Passbridge's PID, not a subshell's.
setpriv --reuid=1000 --regid=1000 --clear-groups env HOME="$work/ana" PASSBRIDGE_DATA_DIR="$work/ana/data" \
    DBUS_SYSTEM_BUS_ADDRESS="$sysbus" XDG_SESSION_ID=c1 "$work/passbridge" bridge </dev/null >ana.out 2>&1 & ana=$!
for _ in $(seq 100); do grep -q 'is ready' ana.out && break; sleep 0.2; done
grep -q 'is ready' ana.out || { cat ana.out helper.out >&2; die "Ana's bridge did not start through the helper"; }
for _ in $(seq 50); do list=$(fido2-token -L 2>&1 || true); [[ $list == *vendor=0x1209* ]] && break; sleep 0.2; done
dev=${list%%:*}
uniq=$(grep HID_UNIQ "/sys/class/hidraw/${dev#/dev/}/device/uevent")
[[ $uniq == "HID_UNIQ=passbridge-uid-1000" ]] || die "the helper's key is not Ana's: $uniq"
step "the helper created Ana's key ($uniq)"
fido2-token -I "$dev" | grep -q aaguid || die "Ana's key does not answer while Ana is at the seat"
switch_to c2 c1
if fido2-token -I "$dev" 2>/dev/null | grep -q aaguid; then die "Ana's key answered while Ben is at the seat"; fi
step "after the switch to Ben, Ana's key refuses (getInfo: not allowed)"
switch_to c1 c2
fido2-token -I "$dev" | grep -q aaguid || die "Ana's key does not answer after Ana came back"
step "Ana is back: her key answers again"
kill $ana; wait $ana 2>/dev/null || true
for _ in $(seq 100); do [ -e "$dev" ] || break; sleep 0.2; done
if [ -e "$dev" ]; then
    cat helper.out ana.out >&2; fido2-token -L >&2 || true
    die "the key outlived Ana's Passbridge"
fi
step "Ana's Passbridge stopped: the helper removed her key"
kill $helper $mock $busd 2>/dev/null || true
wait $helper 2>/dev/null || true
rm -f /run/passbridge-uhid.sock   # a helper that is gone leaves its socket file behind

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
