#!/usr/bin/env bash
# run.sh SCRIPT [ARGS...]: boot the host's Debian kernel under QEMU TCG (virtme-ng), sharing the
# host root read-only, run SCRIPT ARGS as root inside the guest and exit with SCRIPT's status.
#   exit 77 + "SKIP:" line  the VM cannot be set up or booted (SCRIPT never started)
#   exit 124                PASSBRIDGE_VM_TIMEOUT (default 300 s) hit while SCRIPT was running
#   any other               SCRIPT's own exit status
# Env: PASSBRIDGE_VM_OUT (dir shared read-write with the guest, same path), PASSBRIDGE_VM_TIMEOUT,
#      PASSBRIDGE_VM_VENV, PASSBRIDGE_VM_VERBOSE=1 (show the kernel boot console).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

# Guest side (vng --exec calls us back). argv travels NUL-separated in a file so no quoting has to
# survive vng's shell string and kernel command line; "started"/"status" let the host tell a boot
# failure from a script failure (vng itself returns 255 for both a panic and a script's `exit 255`).
if [ "${1:-}" = --in-guest ]; then
    ctl=$2
    mapfile -d '' argv < "$ctl/argv"
    while IFS= read -r -d '' kv; do export "${kv?}"; done < "$ctl/env"   # NAME=value pairs
    : > "$ctl/started"
    rc=0; "${argv[@]}" || rc=$?
    echo "$rc" > "$ctl/status"
    exit "$rc"
fi

skip() { echo "SKIP: $*"; exit 77; }
[ $# -ge 1 ] || { echo "usage: $0 SCRIPT [ARGS...]" >&2; exit 2; }
VENV="${PASSBRIDGE_VM_VENV:-$HOME/.cache/passbridge/venv-vm}"
TIMEOUT="${PASSBRIDGE_VM_TIMEOUT:-300}"

# setup.sh is ~0.2 s when all is present; if it cannot install (no apt, no network) we skip.
"$HERE/setup.sh" -q >&2 || skip "VM harness could not be installed (tests/vm/setup.sh failed)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not found"
KERNEL=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$KERNEL" ] || [ ! -r "$KERNEL" ]; then
    skip "no readable /boot/vmlinuz-*-amd64 (Debian installs them root-only)"
fi

# A relative SCRIPT path is resolved here; the guest's cwd is the host cwd anyway, but be explicit.
script=$1; shift
if [ -e "$script" ]; then script="$(cd "$(dirname "$script")" && pwd)/$(basename "$script")"; fi

# Control dir: must be on the host's disk (not a guest-only tmpfs), shared read-write.
CTL=$(mktemp -d "${TMPDIR:-/tmp}/passbridge-vm.XXXXXX")
trap 'rm -rf "$CTL"' EXIT
printf '%s\0' "$script" "$@" > "$CTL/argv"
# The guest starts with a bare environment; carry over ours that scripts are likely to need.
env -0 | grep -z -E '^(PASSBRIDGE_[A-Z_]*|RUST_LOG|RUST_BACKTRACE)=' > "$CTL/env" || true

args=(--run "$KERNEL" --memory 2G --disable-kvm --user root --rwdir="$CTL")
if [ -n "${PASSBRIDGE_VM_OUT:-}" ]; then
    mkdir -p "$PASSBRIDGE_VM_OUT"
    args+=(--rwdir="$(cd "$PASSBRIDGE_VM_OUT" && pwd)")
fi
if [ "${PASSBRIDGE_VM_VERBOSE:-0}" = 1 ]; then args+=(--verbose); fi
# vng pastes these paths into a shell string unquoted: refuse whitespace rather than misbehave.
case "$HERE$CTL${PASSBRIDGE_VM_OUT:-}" in *[[:space:]\'\"]*) skip "paths with spaces/quotes unsupported by vng";; esac

# vng runs "virtme-run" from PATH, so the venv's bin must be on it. timeout signals the whole
# process group (vng and its qemu child); -k in case qemu ignores SIGTERM. stdin from /dev/null
# so a guest reading stdin cannot hang on the caller's terminal.
# QEMU reopens /proc/self/fd/1 and 2 with O_TRUNC: if the caller redirected to a file (even with
# >>), everything already in it is wiped. Feeding QEMU pipes instead keeps callers' logs intact.
set +e
PATH="$VENV/bin:$PATH" timeout -k 10 "$TIMEOUT" \
    "$VENV/bin/vng" "${args[@]}" --exec "bash '$HERE/run.sh' --in-guest '$CTL'" \
    </dev/null 2> >(cat >&2) | cat
rc=${PIPESTATUS[0]}
set -e

if [ -f "$CTL/status" ]; then exit "$(cat "$CTL/status")"; fi
if [ -f "$CTL/started" ]; then
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "run.sh: timeout after ${TIMEOUT}s while the script was running" >&2; exit 124
    fi
    echo "run.sh: guest died while the script was running (vng exit $rc)" >&2; exit 1
fi
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then skip "VM did not reach the script within ${TIMEOUT}s"; fi
skip "VM failed to boot (vng exit $rc; rerun with PASSBRIDGE_VM_VERBOSE=1)"
