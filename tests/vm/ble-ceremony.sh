#!/usr/bin/env bash
# ble-ceremony.sh PASSBRIDGE_BIN: the cross-device ceremony over real BlueZ, inside the VM.
# hci0 and hci1 are two virtual LE controllers on one virtual air (guest-bluez.sh). The virtual
# phone advertises its encrypted EID through BlueZ on hci1 (bluer); the desktop client scans hci0
# with btleplug, matches the advert, and completes a registration through a relay on loopback.
# Exit 0 when the client's JSON says ok and its steps show the advert matched; 77 = no VM here.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -x "$bin" ] || { echo "ble-ceremony.sh: no binary at $1" >&2; exit 2; }

if [ "${2:-}" != --in-guest ]; then
    exec "$HERE/run.sh" "$HERE/guest-bluez.sh" "$HERE/ble-ceremony.sh" "$bin" --in-guest
fi

# --- inside the VM, BlueZ up on hci0 and hci1 ---
ip link set lo up
work=$(mktemp -d)
export PASSBRIDGE_DATA_DIR=$work RUST_LOG=${RUST_LOG:-warn}
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

"$bin" relay --listen 127.0.0.1:0 >"$work/relay.out" 2>&1 & pids+=($!)
for _ in $(seq 100); do relay=$(grep -o 'ws://[0-9.:]*' "$work/relay.out" || true); [ -n "$relay" ] && break; sleep 0.2; done
[ -n "$relay" ] || { cat "$work/relay.out" >&2; echo "ble-ceremony.sh: relay did not start" >&2; exit 1; }
echo "ble-ceremony.sh: relay at $relay"

# passbridge doctor's scan over the real stack: hci1 broadcasts FIDO service data the way a
# phone does (AD type 0x16, UUID 0xFFF9, 20 bytes; here fixed bytes, since doctor decrypts
# nothing), and doctor, scanning hci0, must report it with its length. Before the ceremony:
# hci1's address is then new to hci0, as a phone's fresh random address is. btmgmt sets the
# advertising data directly, so the check does not hang on the virtual phone's timing.
fido_ad=1716f9ff$(printf '%02x' $(seq 1 20))
timeout 10 btmgmt -i hci1 add-adv -d "$fido_ad" 1 >/dev/null || { echo "ble-ceremony.sh: btmgmt add-adv failed" >&2; exit 1; }
doctor_says() {  # the Bluetooth findings of a doctor --json report on stdin, one per line
    /usr/bin/python3 -c 'import json, sys
for c in json.load(sys.stdin)["checks"]:
    if c["area"] == "bluetooth":
        heard = ["%04X:%s" % (a["uuid"], "/".join(map(str, a["lengths"]))) for a in c.get("adverts", [])]
        print(c["finding"], c["status"], " ".join(heard))'
}
# One retry: under emulation a scan that starts just after another can miss the first reports.
for try in 1 2; do
    RUST_LOG=${PASSBRIDGE_DOCTOR_LOG:-warn} "$bin" doctor --offline --air ble:hci0 --scan 8 --json \
        >"$work/doctor.json" 2>"$work/doctor.err" || true
    scan=$(doctor_says <"$work/doctor.json") || { cat "$work/doctor.json" "$work/doctor.err" >&2; exit 1; }
    grep -q '^adverts-heard' <<<"$scan" && break
    echo "ble-ceremony.sh: doctor's scan $try heard nothing yet" >&2
done
timeout 10 btmgmt -i hci1 rm-adv 1 >/dev/null || true
grep -q '^adverts-heard pass .*FFF9:20' <<<"$scan" \
    || { echo "$scan" >&2; cat "$work/doctor.err" >&2; echo "ble-ceremony.sh: doctor's scan did not report the phone's advert" >&2; exit 1; }
echo "ble-ceremony.sh: doctor --scan heard: $(grep '^adverts-heard' <<<"$scan")"

"$bin" hybrid register --rp-id example.com --user alice --relay "$relay" --air ble:hci0 \
    --timeout 90 --json >"$work/client.json" 2>"$work/client.err" & client=$!
pids+=("$client")
for _ in $(seq 300); do qr=$(grep -o '^FIDO:/[0-9]*' "$work/client.err" || true); [ -n "$qr" ] && break; sleep 0.2; done
[ -n "$qr" ] || { cat "$work/client.err" >&2; echo "ble-ceremony.sh: the client showed no QR code" >&2; exit 1; }

"$bin" phone --qr "$qr" --relay "$relay" --air ble:hci1 --timeout 90 2>"$work/phone.err" & phone=$!
pids+=("$phone")

rc=0; wait "$client" || rc=$?
prc=0; wait "$phone" || prc=$?
grep -v '^[ █▀▄]*$' "$work/client.err" >&2 || true
echo "--- phone" >&2; cat "$work/phone.err" >&2
cat "$work/client.json"
[ "$rc" -eq 0 ] || { echo "ble-ceremony.sh: client failed ($rc)" >&2; exit 1; }
[ "$prc" -eq 0 ] || { echo "ble-ceremony.sh: phone failed ($prc)" >&2; exit 1; }
grep -q 'phone nearby (its Bluetooth advert matched)' "$work/client.err" \
    || { echo "ble-ceremony.sh: no advert-matched step" >&2; exit 1; }
grep -q '"ok": true' "$work/client.json" || { echo "ble-ceremony.sh: result not ok" >&2; exit 1; }
grep -q '"attestation_signature_verified": true' "$work/client.json" \
    || { echo "ble-ceremony.sh: attestation not verified" >&2; exit 1; }
# The cross-device test over the same stack, after the ceremony (so hci0's BlueZ already knows
# hci1, as it knows a phone on its second sign-in): the virtual phone in passbridge's process
# advertises on hci1, the desktop scans hci0; a registration and a sign-in, each phase timed.
"$bin" hybrid test --virtual-phone --air ble:hci0 --phone-air ble:hci1 --relay "$relay" \
    --timeout 60 --json --report "$work/report" >"$work/test.json" 2>"$work/test.err" \
    || { cat "$work/test.err" "$work/test.json" >&2; echo "ble-ceremony.sh: hybrid test failed" >&2; exit 1; }
grep -q '"passed": true' "$work/test.json" || { cat "$work/test.json" >&2; echo "ble-ceremony.sh: hybrid test did not pass" >&2; exit 1; }
[ "$(grep -c '"phase": "advert-decrypted"' "$work/test.json")" -eq 2 ] \
    || { cat "$work/test.json" >&2; echo "ble-ceremony.sh: hybrid test: an advert was not decrypted in each ceremony" >&2; exit 1; }
grep -q '<svg class="timeline"' "$work/report/report.html" || { echo "ble-ceremony.sh: no timeline in the report" >&2; exit 1; }
echo "ble-ceremony.sh: ok: hybrid test over BlueZ: $(grep -E '^  \[.*(advert decrypted|verified)' "$work/test.err" | tr -s ' ' | paste -sd ';' -)"
# After the ceremony (a power cycle under emulation can leave the adapter slow to scan again,
# and the ceremony is what matters most): the failures a user meets first, named in words.
expect_failure() {  # expect_failure TEXT ARGS...: the client must fail and print TEXT
    local text=$1; shift
    if "$bin" hybrid register --rp-id example.com --user a --relay "$relay" --timeout 5 "$@" \
        >/dev/null 2>"$work/fail.err"; then
        echo "ble-ceremony.sh: client succeeded with $*" >&2; exit 1
    fi
    grep -q "$text" "$work/fail.err" || { cat "$work/fail.err" >&2; echo "ble-ceremony.sh: no '$text'" >&2; exit 1; }
    echo "ble-ceremony.sh: ok: $(grep passbridge: "$work/fail.err")"
}
expect_failure 'there is no Bluetooth adapter called hci7' --air ble:hci7
timeout 10 btmgmt -i hci0 power off >/dev/null
expect_failure 'Bluetooth is off' --air ble:hci0
# doctor names the same two faults, each with its own finding.
off=$("$bin" doctor --offline --air ble:hci0 --json | doctor_says) || true
[[ $off == "bluetooth-off warn"* ]] || { echo "ble-ceremony.sh: doctor with hci0 off: $off" >&2; exit 1; }
missing=$("$bin" doctor --offline --air ble:hci7 --json | doctor_says) || true
[[ $missing == "no-bluetooth-adapter warn"* ]] || { echo "ble-ceremony.sh: doctor with no hci7: $missing" >&2; exit 1; }
echo "ble-ceremony.sh: ok: doctor says $off; and for hci7, $missing"

echo "ble-ceremony.sh: PASS: btleplug on hci0 matched the phone's BlueZ advert from hci1; registration verified; hybrid test passed"
