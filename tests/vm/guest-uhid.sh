#!/usr/bin/env bash
# guest-uhid.sh CMD...: inside the VM (via run.sh), load uhid so /dev/uhid exists (a process can
# then create a virtual FIDO HID device), run CMD and exit with its status.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
grep -q virtme /proc/cmdline || { echo "guest-uhid.sh: run me inside the VM (tests/vm/run.sh)" >&2; exit 2; }

modprobe uhid
# devtmpfs creates the node when the misc device registers; allow a moment anyway.
for _ in $(seq 20); do [ -c /dev/uhid ] && break; sleep 0.1; done
[ -c /dev/uhid ] || { echo "guest-uhid.sh: /dev/uhid missing after modprobe uhid" >&2; exit 1; }

rc=0; "$@" || rc=$?
exit "$rc"
