#!/usr/bin/env bash
# smoke.sh: end-to-end check of the VM harness (two boots, ~1 min each under TCG).
#  1. BlueZ: hci1 advertises service data for UUID 0xFFF9, hci0's LE scan must see it
#     (two virtual controllers on one emulated radio; tests/vm/README.md explains the set-up).
#  2. uhid: /dev/uhid exists after modprobe uhid.
# Exit 0 if all passed, 77 if every check was skipped (no VM here), 1 on any failure.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export PASSBRIDGE_VM_OUT="${PASSBRIDGE_VM_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/passbridge-vm-out.XXXXXX")}"
passed=0 failed=0 skipped=0

# check NAME GREP_PATTERN... -- run.sh ARGS: boot, then require every pattern in the output.
check() {
    local name=$1; shift; local pats=()
    while [ "$1" != -- ]; do pats+=("$1"); shift; done; shift
    local log="$PASSBRIDGE_VM_OUT/$name.log" t0=$SECONDS rc=0
    "$HERE/run.sh" "$@" 2>&1 | tee "$log" || rc=${PIPESTATUS[0]}
    echo "smoke: $name: boot+run took $((SECONDS - t0)) s (exit $rc)"
    if [ "$rc" -eq 77 ]; then skipped=$((skipped + 1)); return; fi
    for p in "${pats[@]}"; do
        grep -qE -- "$p" "$log" || { echo "smoke: $name: FAIL, no '$p' in output"; rc=1; }
    done
    if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); echo "smoke: $name: ok"
    else failed=$((failed + 1)); echo "smoke: $name: FAIL (log: $log)"; fi
}

# AD structure: len 0x17, type 0x16 (service data, 16-bit UUID), UUID f9 ff (LE), 20 bytes.
# `find -l` prints one dev_found per advertiser; eir_len 24 is exactly our AD structure.
ADV=1716f9ff000102030405060708090a0b0c0d0e0f10111213
check bluez-advert 'hci0 dev_found: .* type LE' '^eir_len 24' -- \
    "$HERE/guest-bluez.sh" bash -c "btmgmt -i hci1 add-adv -d $ADV 1 && timeout 60 btmgmt -i hci0 find -l"

check uhid '^crw.* 10, *239 .*/dev/uhid' -- "$HERE/guest-uhid.sh" ls -l /dev/uhid

echo "smoke: $passed passed, $failed failed, $skipped skipped"
if [ "$failed" -gt 0 ]; then exit 1; fi
if [ "$passed" -eq 0 ]; then exit 77; fi
