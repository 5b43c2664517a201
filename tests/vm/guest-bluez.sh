#!/usr/bin/env bash
# guest-bluez.sh CMD...: inside the VM (via run.sh), bring up BlueZ on two virtual LE controllers
# hci0 and hci1 that share one virtual air (btvirt -l2), run CMD and exit with its status.
# Daemon logs go to ${PASSBRIDGE_VM_OUT:-/tmp}/bluez-logs/ so they survive the VM when OUT is set.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
# Never start a second bluetoothd / load modules on a real machine.
grep -q virtme /proc/cmdline || { echo "guest-bluez.sh: run me inside the VM (tests/vm/run.sh)" >&2; exit 2; }

LOG="${PASSBRIDGE_VM_OUT:-/tmp}/bluez-logs"; mkdir -p "$LOG"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
fail() { echo "guest-bluez.sh: $*" >&2; tail -n 20 "$LOG"/*.log >&2 || true; exit 1; }

# The kernel gives a new controller 2 s to answer HCI_Reset; under TCG on a loaded host btvirt
# sometimes misses that ("hci0: Opcode 0x0c03 failed: -110" in dmesg) and that controller never
# reaches the mgmt index list. So wait for both indexes and restart btvirt if one is missing.
modprobe hci_vhci
for try in 1 2 3 4; do
    btvirt -l2 >>"$LOG/btvirt.log" 2>&1 & btvirt=$!
    deadline=$((SECONDS + 10))
    until idx=$(timeout 5 btmgmt info 2>/dev/null || true); [[ $idx == *hci0:* && $idx == *hci1:* ]]; do
        ((SECONDS < deadline)) || break
        sleep 0.5
    done
    [[ $idx == *hci0:* && $idx == *hci1:* ]] && break
    echo "guest-bluez.sh: btvirt try $try: controller init timed out, restarting" >&2
    kill "$btvirt"; wait "$btvirt" 2>/dev/null || true; sleep 1
done
[[ $idx == *hci0:* && $idx == *hci1:* ]] || { dmesg | grep -i hci >&2; fail "btvirt controllers did not initialise"; }
pids+=("$btvirt")

# System bus in the foreground-in-background (not --fork) so we own its pid; wait for its socket.
mkdir -p /run/dbus
dbus-daemon --system --nofork --nopidfile >"$LOG/dbus.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do [ -S /run/dbus/system_bus_socket ] && break; sleep 0.2; done
[ -S /run/dbus/system_bus_socket ] || fail "system dbus did not start"

/usr/libexec/bluetooth/bluetoothd -n >"$LOG/bluetoothd.log" 2>&1 & pids+=($!)

# Adapters show up on D-Bus a few seconds after bluetoothd starts. busctl comes with systemd, not
# with any package setup.sh installs, so fall back to dbus-send. Output is captured into a
# variable rather than piped to grep -q (pipefail + SIGPIPE would give false negatives).
bluez_objects() {
    if command -v busctl >/dev/null; then busctl --system tree --list org.bluez
    else dbus-send --system --print-reply --dest=org.bluez / org.freedesktop.DBus.ObjectManager.GetManagedObjects
    fi 2>/dev/null || true
}
deadline=$((SECONDS + 20))
until objs=$(bluez_objects); [[ $objs == */org/bluez/hci0* && $objs == */org/bluez/hci1* ]]; do
    ((SECONDS < deadline)) || fail "hci0/hci1 not on D-Bus after 20 s"
    sleep 0.5
done

# btmgmt talks to the kernel's mgmt socket directly; bounded in case a controller wedges.
for hci in hci0 hci1; do
    timeout 10 btmgmt -i "$hci" power on >/dev/null || fail "$hci power on"
    timeout 10 btmgmt -i "$hci" le on >/dev/null || fail "$hci le on"
done
echo "guest-bluez.sh: hci0 and hci1 powered, running: $*" >&2

rc=0; "$@" || rc=$?
exit "$rc"
