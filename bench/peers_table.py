#!/usr/bin/env python3
"""Renders bench/PEERS.md from one run of bench/peers.sh: peers_table.py RESULTS.jsonl TABLE.py

The side-by-side table first (one column per service, one row per figure the issue asks for),
the targets Sesame is measured against, then the harness's own detailed tables (its table.py).
"""
import json
import subprocess
import sys

PEERS = ["sesame", "fastapi-users", "simplejwt"]
EQUAL_PARAMS = "argon2id t=2 m=19456 KiB p=1"


def load(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def find(rows, peer, measure, equal_params=None, **fields):
    """The last row of `peer` and `measure`; equal_params True/False picks the run at Sesame's
    Argon2id parameters or at the peer's own (Sesame's are both)."""
    found = None
    for row in rows:
        if row.get("peer") != peer or row.get("measure") != measure:
            continue
        if any(row.get(k) != v for k, v in fields.items()):
            continue
        if peer != "sesame" and equal_params is not None:
            if row.get("password_hash", "").startswith(EQUAL_PARAMS) != equal_params:
                continue
        found = row
    return found


def value(row, key, fmt="{:.0f}"):
    if row is None or row.get(key) is None:
        return "—"
    if row.get("valid") is False:
        return fmt.format(row[key]) + " (invalid: errors)"
    return fmt.format(row[key])


def main(path, table_py):
    rows = load(path)
    env = next((r for r in rows if r.get("measure") == "env"), {})
    me = {p: find(rows, p, "me", False, conns=16) for p in PEERS}
    login = {p: find(rows, p, "login", True) for p in PEERS}
    refresh = {p: find(rows, p, "refresh", False) for p in PEERS}
    cold = {p: find(rows, p, "cold_start", False) for p in PEERS}
    rss_own = {p: find(rows, p, "rss", False) for p in PEERS}
    rss_equal = {p: find(rows, p, "rss", True) for p in PEERS}
    bare = next((r for r in rows if r.get("measure") == "argon2_verify"
                 and r.get("memory_cost_kib") == 19456 and r.get("time_cost") == 2), None)
    first = next((r for r in rows if r.get("ts")), {})
    out = []
    w = out.append
    w("# Sesame side by side with its peers\n")
    w("Written by `make bench-peers` (`bench/peers.sh`, `bench/peers_table.py`); rerun it rather "
      "than editing this file. One run of the peer harness (`../shared/bench/peers`, wrk 4.1.0, "
      "closed loop, on the same cores as the servers): Sesame's release `local-server` with "
      "DynamoDB requests sent straight to DynamoDB Local (in memory, its CPU not counted as the "
      "server's), the peers on SQLite, one worker each. Raw results: `bench/peers.jsonl`.\n")
    w(f"- Date: {first.get('ts', '?')}; machine: `nproc` = {env.get('nproc', '?')}, "
      f"load average (1 min) at the start {env.get('loadavg', ['?'])[0]}\n")
    w("| | Sesame | fastapi-users | simplejwt |")
    w("|---|---:|---:|---:|")

    def line(label, cells):
        w(f"| {label} | " + " | ".join(cells) + " |")

    line("GET me, 16 conns, req/s", [value(me[p], "rps") for p in PEERS])
    line("server CPU per GET me, ms", [value(me[p], "server_cpu_ms_per_req", "{:.2f}") for p in PEERS])
    line("login, 4 conns, same Argon2id (t=2, m=19 MiB, p=1), req/s",
         [value(login[p], "rps", "{:.1f}") for p in PEERS])
    line("login p50 at 4 conns, ms", [value(login[p], "p50_ms", "{:.1f}") for p in PEERS])
    line("refresh, 16 conns, req/s",
         [value(refresh[p], "rps") if refresh[p] or p != "fastapi-users" else "— (none)" for p in PEERS])
    line("process start → first 2xx, ms (median)",
         [value(cold[p], "first_2xx_ms_median") for p in PEERS])
    line("idle RSS after start, MiB",
         [value((cold[p] or {}).get("idle_after_start"), "peak_rss_total_mib", "{:.1f}") for p in PEERS])
    line("**peak RSS under load, MiB** (same Argon2id)",
         [value(rss_equal[p], "peak_rss_total_mib", "{:.1f}") for p in PEERS])
    line("peak RSS under load, MiB (peers at their own Argon2id defaults)",
         [value(rss_own[p], "peak_rss_total_mib", "{:.1f}") for p in PEERS])
    w("")

    w("## Against the targets\n")
    sesame_me = me["sesame"]
    peers_me = [me[p] for p in PEERS[1:] if me[p]]
    if sesame_me and peers_me:
        best = max(peers_me, key=lambda r: r["rps"])
        w(f"- GET me: {sesame_me['rps']:.0f} req/s = {sesame_me['rps'] / best['rps']:.1f}× the better "
          f"peer ({best['peer']}, {best['rps']:.0f}); target ≥ 5×. Server CPU per request "
          f"{sesame_me['server_cpu_ms_per_req']:.2f} ms against {best['server_cpu_ms_per_req']:.2f} ms "
          f"({best['server_cpu_ms_per_req'] / sesame_me['server_cpu_ms_per_req']:.1f}× less); "
          "DynamoDB Local's CPU is not in Sesame's figure, and wrk shares the two cores.")
    if login["sesame"] and bare:
        w(f"- Login p50 at 4 connections {login['sesame']['p50_ms']:.1f} ms = "
          f"{login['sesame']['p50_ms'] / bare['median_ms']:.1f}× one bare Argon2id verification "
          f"(argon2-cffi, one at a time, median {bare['median_ms']:.1f} ms); target ≤ 1.2×. Four "
          "clients share the permitted concurrent hashes (one per CPU), so this p50 includes "
          "queueing; `make bench` (bench/RESULTS.md) compares a sequential login with a bare "
          "verification measured just before it.")
    if rss_equal["sesame"] and cold["sesame"]:
        idle = cold["sesame"]["idle_after_start"]["peak_rss_total_mib"]
        peak = rss_equal["sesame"]["peak_rss_total_mib"]
        w(f"- Memory: idle {idle:.1f} MiB after start, peak {peak:.1f} MiB under the load "
          f"({peak - idle:+.1f} MiB; target ≤ +64 MiB). Before the Argon2 memory was pooled the "
          "same harness measured 442–478 MiB (2026-12-01).")
    w("")
    w("## Every measurement of the run (the harness's table.py)\n")
    detail = subprocess.run([sys.executable, table_py, path], check=True,
                            capture_output=True, text=True).stdout
    w(detail)
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
