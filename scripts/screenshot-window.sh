#!/usr/bin/env bash
# Opens the Passbridge window on a private Xvfb display and saves a screenshot.
# Usage: scripts/screenshot-window.sh OUT.png [seconds-to-wait]
set -euo pipefail
out="$1"; wait="${2:-8}"
bin="${PASSBRIDGE_BIN:-${CARGO_TARGET_DIR:-target}/debug/passbridge}"
display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 1100x760x24 -nolisten tcp &
xvfb=$!
trap 'kill "$app" "$xvfb" 2>/dev/null || true' EXIT
sleep 1
DISPLAY="$display" "$bin" gui &
app=$!
sleep "$wait"
DISPLAY="$display" import -window root "$out"
echo "saved $out"
