#!/usr/bin/env python3
"""Startup benchmark of the window under Xvfb: time to interactive and idle memory.

"Interactive" is the app's own log line: the front-end's first command reaches Rust after the
page has rendered and wired its controls. Memory is measured after 5 s idle: the app
process's RSS and its private (anonymous) part, and the whole process tree (WebKitGTK runs the
page and the network in child processes) as PSS, so shared libraries are not counted twice.

With a D-Bus session (`./dev bench-startup` runs inside one), a tray host's registry stands in
(tests/ui/desktop_probe.py), so the app starts with its tray icon registered, as on a desktop;
each run says whether its icon was in the tray.

Usage: startup_bench.py PASSBRIDGE_DESKTOP_BINARY [RUNS]
Prints one line per run and a median summary. Bounded: each run stops after 30 s.
"""

from __future__ import annotations

import os
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


ANSI = re.compile(r"\x1b\[[0-9;]*m")
PROBE = str(Path(__file__).resolve().parent / "desktop_probe.py")


def in_tray(display: str) -> bool:
    done = subprocess.run(["/usr/bin/python3", PROBE, "tray"], capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, DISPLAY=display))
    return done.returncode == 0 and "Quit Passbridge" in done.stdout


def tree(pid: int) -> list[int]:
    out = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for child in children.read_text().split():
            out.extend(tree(int(child)))
    return out


def kib(pid: int, path: str, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_once(binary: str, display: str) -> tuple[float, float, float, float, bool]:
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ, DISPLAY=display, PASSBRIDGE_DATA_DIR=data, RUST_LOG="passbridge=info",
                   WEBKIT_DISABLE_COMPOSITING_MODE="1", LIBGL_ALWAYS_SOFTWARE="1")
        proc = subprocess.Popen([binary], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        try:
            # Read stderr on a thread, so a silent app cannot block the deadline.
            lines: queue.Queue[str] = queue.Queue()
            assert proc.stderr is not None
            threading.Thread(target=lambda: [lines.put(l) for l in proc.stderr], daemon=True).start()
            deadline = time.monotonic() + 30
            ready = None
            while ready is None and time.monotonic() < deadline:
                try:
                    line = ANSI.sub("", lines.get(timeout=0.5))
                except queue.Empty:
                    continue
                match = re.search(r"window interactive ms=([0-9.]+)", line)
                if match:
                    ready = float(match.group(1))
            if ready is None:
                raise RuntimeError("the window never became interactive")
            time.sleep(5)
            rss = kib(proc.pid, "status", "VmRSS") / 1024
            anon = kib(proc.pid, "status", "RssAnon") / 1024
            pss = sum(kib(p, "smaps_rollup", "Pss") for p in tree(proc.pid)) / 1024
            tray = bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS")) and in_tray(display)
            return ready, rss, anon, pss, tray
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> int:
    binary = str(Path(sys.argv[1]).resolve())
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    host = None
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1100x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert xvfb.stdout is not None
        display = ":" + xvfb.stdout.readline().strip()
        if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            host = subprocess.Popen(["/usr/bin/python3", PROBE, "serve"], stdout=subprocess.PIPE, text=True,
                                    env=dict(os.environ, DISPLAY=display))
            assert host.stdout is not None
            host.stdout.readline()  # "serving ...": the tray host is up
        results = []
        for index in range(runs):
            ready, rss, anon, pss, tray = run_once(binary, display)
            results.append((ready, rss, anon, pss))
            print(f"run {index + 1}: interactive after {ready:.0f} ms; app process idle RSS {rss:.1f} MB "
                  f"(private {anon:.1f} MB); app + WebKit processes PSS {pss:.1f} MB; "
                  f"{'icon in the tray' if tray else 'no tray icon'}")
        med = [statistics.median(r[i] for r in results) for i in range(4)]
        print(f"median of {runs}: interactive {med[0]:.0f} ms; idle RSS {med[1]:.1f} MB "
              f"(private {med[2]:.1f} MB); tree PSS {med[3]:.1f} MB")
        return 0
    finally:
        if host is not None:
            host.terminate()
            host.wait(5)
        xvfb.terminate()
        xvfb.wait(5)


if __name__ == "__main__":
    sys.exit(main())
