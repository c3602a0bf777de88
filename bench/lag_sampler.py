#!/usr/bin/env python3
"""Samples replication lag of an `srs up` cluster every 250 ms until killed.

Each line of output is JSON: receive lag (transactions the primary has
binlogged that the DR server has not received), apply lag (not yet
applied), and, when the controller has an endpoint, its apply lag
estimate in seconds and the write concurrency it advises.

    bench/lag_sampler.py SRS_BINARY DATA_DIR [CONTROLLER_ADDR] > samples.jsonl
"""
import json
import subprocess
import sys
import time
import urllib.request


def by_domain(pos):
    out = {}
    for g in (pos or "").split(","):
        parts = g.strip().split("-")
        if len(parts) == 3 and parts[0].isdigit() and parts[2].isdigit():
            d, s = int(parts[0]), int(parts[2])
            out[d] = max(out.get(d, 0), s)
    return out


def behind(ahead, have):
    a, h = by_domain(ahead), by_domain(have)
    return sum(max(0, s - h.get(d, 0)) for d, s in a.items())


def main():
    binary, data_dir = sys.argv[1], sys.argv[2]
    controller = sys.argv[3] if len(sys.argv) > 3 else ""
    while True:
        sample = {"t": time.time()}
        try:
            out = subprocess.run([binary, "status", "--json", "--data-dir", data_dir],
                                 capture_output=True, text=True, timeout=5).stdout
            status = json.loads(out)
            primary = [s for s in status["sites"] if s["role"] == "primary"][0]["database"]
            dr = [s for s in status["sites"] if s["role"] == "dr"][0]["database"]
            if primary["up"] and dr["up"] and dr.get("replica"):
                sample["receive_txn"] = behind(primary["gtid_binlog_pos"], dr["replica"]["gtid_io_pos"])
                sample["apply_txn"] = behind(primary["gtid_binlog_pos"], dr["gtid_slave_pos"])
        except Exception as e:  # a missed sample is reported, not fatal
            sample["error"] = str(e)
        if controller:
            try:
                with urllib.request.urlopen(f"http://{controller}/admission", timeout=2) as r:
                    advice = json.load(r)
                sample["lag_seconds"] = advice.get("lag_seconds")
                sample["write_concurrency"] = advice.get("write_concurrency")
            except Exception as e:
                sample["controller_error"] = str(e)
        print(json.dumps(sample), flush=True)
        time.sleep(0.25)


if __name__ == "__main__":
    main()
