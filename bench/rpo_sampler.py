#!/usr/bin/env python3
"""Samples the binlog archive's RPO until killed.

Every 100 ms it reads the server's binlog position (SHOW MASTER STATUS) and
the size of the archived copy of that file. Afterwards, for each sample,
the RPO is how long it took until the archive held the position the server
had reached at that moment (0 when it already did).

    bench/rpo_sampler.py SOCKET ARCHIVE_DIR > rpo.json   (SIGTERM to stop)
"""
import json
import os
import signal
import subprocess
import sys
import time

socket, archive_dir = sys.argv[1], sys.argv[2]
samples = []  # (t, file, position, {file: archived size})
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)


def archived_sizes():
    sizes = {}
    for root, _, files in os.walk(archive_dir):
        for f in files:
            try:
                sizes[f] = os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return sizes


while running:
    t = time.monotonic()
    out = subprocess.run(
        ["mariadb", "--no-defaults", "-uroot", f"--socket={socket}", "-N", "-B", "-e", "SHOW MASTER STATUS"],
        capture_output=True, text=True).stdout.split()
    if len(out) >= 2:
        samples.append((t, out[0], int(out[1]), archived_sizes()))
    time.sleep(max(0.0, 0.1 - (time.monotonic() - t)))

rpos = []
for i, (t, f, pos, _) in enumerate(samples):
    reached = None
    for t2, _, _, sizes in samples[i:]:
        if sizes.get(f, 0) >= pos:
            reached = t2
            break
    if reached is not None:
        rpos.append(max(0.0, reached - t))
rpos.sort()


def pct(p):
    return rpos[min(len(rpos) - 1, int(p / 100 * len(rpos)))] if rpos else None


print(json.dumps({"samples": len(rpos), "p50": pct(50), "p99": pct(99), "max": rpos[-1] if rpos else None}))
