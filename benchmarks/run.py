"""The benchmark suite's entry point: ``python -m benchmarks.run`` (see benchmarks/README.md).

Runs the parts in order (hot path, refresh latency, refresh storm, throughput, instructions per request under
callgrind, scale, outage, many users, OpenTelemetry) against one local
emulator on 127.0.0.1, then writes ``benchmarks.json``, ``results.md`` and ``chart.png`` to ``--out`` and refreshes
the results block of ``docs/performance.md``. ``--smoke`` runs every part with tiny counts in seconds (no file under
docs/ is touched, no timing is judged): the test suite uses it so the benchmarks cannot rot.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path
from typing import Any

from . import hotpath, instructions, outage, refresh, report, scale, telemetry, throughput, users, users_http
from .common import Lab

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("hot", "refresh", "storm", "throughput", "instructions", "scale", "outage", "users", "users-http", "telemetry")


def _ints(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny counts, seconds in all (for the test suite)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts among {', '.join(PARTS)}")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default benchmarks/results)")
    parser.add_argument(
        "--docs",
        type=Path,
        default=None,
        help="performance page to update (default docs/performance.md on a full run; never in --smoke or a run of "
        "some parts unless given)",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not touch the performance page")
    parser.add_argument("--scale-sizes", type=_ints, default=None, help="stored-session counts (default 1e3,1e5,1e6)")
    parser.add_argument("--storm-sizes", type=_ints, default=None, help="concurrent requests (default 10,100,1000)")
    parser.add_argument("--storm-processes", type=int, default=None, help="processes for the PostgreSQL storm (4)")
    parser.add_argument("--seconds", type=float, default=None, help="throughput: seconds per measurement (3)")
    parser.add_argument("--no-node", action="store_true", help="skip the node comparison")
    return parser.parse_args(argv)


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """Counts for a full or a smoke run, with the command line's overrides."""
    if args.smoke:
        s: dict[str, Any] = {
            "hot_rounds": 1,
            "hot_per_round": 20,
            "node_iterations": 50,
            "refresh_iterations": 4,
            "storm_sizes": [10],
            "storm_processes": 2,
            "tp_seconds": 0.5,
            "tp_warmup": 0.3,
            "tp_rounds": 1,
            "tp_connections": 4,
            "ins_requests": 50,
            "ins_warmup": 20,
            "ins_pairs": 1,
            "scale_sizes": [50, 200],
            "scale_rounds": 1,
            "scale_per_round": 20,
            "memory_sessions": 10,
            "outage_sessions": 2,
            "outage_threads": 2,
            "outage_off_requests": 2,
            "outage_on_requests": 20,
            "users_sizes": [1, 20],
            "users_requests": 200,
            "users_http_sizes": [1, 20],
            "users_http_seconds": 0.3,
            "telemetry_rounds": 2,
            "telemetry_per_round": 50,
            "telemetry_refreshes": 10,
        }
    else:
        s = {
            "hot_rounds": 10,
            "hot_per_round": 500,
            "node_iterations": 5000,
            "refresh_iterations": 200,
            "storm_sizes": [10, 100, 1000],
            "storm_processes": 4,
            "tp_seconds": 3.0,
            "tp_warmup": 0.5,
            "tp_rounds": 4,
            "tp_connections": 16,
            "ins_requests": 1000,
            "ins_warmup": 300,
            "ins_pairs": None,
            "scale_sizes": [1_000, 100_000, 1_000_000],
            "scale_rounds": 10,
            "scale_per_round": 100,
            "memory_sessions": 500,
            "outage_sessions": 20,
            "outage_threads": 8,
            "outage_off_requests": 64,
            "outage_on_requests": 4000,
            "users_sizes": [1, 100, 1_000, 10_000, 50_000],
            "users_requests": 20_000,
            "users_http_sizes": [1, 100, 1_000, 10_000, 50_000],
            "users_http_seconds": 3.0,
            "telemetry_rounds": 20,
            "telemetry_per_round": 2000,
            "telemetry_refreshes": 200,
        }
    for key, value in (
        ("scale_sizes", args.scale_sizes),
        ("storm_sizes", args.storm_sizes),
        ("storm_processes", args.storm_processes),
        ("tp_seconds", args.seconds),
    ):
        if value is not None:
            s[key] = value
    if args.no_node:
        s["node_iterations"] = 0
    return s


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the suite; returns the results (also written to disk)."""
    args = parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown parts: {', '.join(sorted(unknown))}")
    s = settings(args)
    out_dir = args.out or ROOT / "benchmarks" / "results"
    # the results block of the performance page is rewritten by a full run only (a part alone would wipe the others'
    # tables), unless --docs names the page
    full = set(parts) == set(PARTS)
    docs = None if args.no_docs else args.docs or (None if args.smoke or not full else ROOT / "docs" / "performance.md")
    started = time.time()
    results: dict[str, Any] = {
        "meta": {
            "started_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "smoke": args.smoke,
            "settings": s,
            "parts": parts,
            "machine": report.machine(),
        }
    }

    def step(name: str) -> None:
        print(f"[bench] {name} ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)

    with Lab() as lab:
        results["meta"]["postgres"] = lab.have_postgres
        if "hot" in parts:
            step("hot path")
            results["hot_path"] = hotpath.run(
                lab, rounds=s["hot_rounds"], per_round=s["hot_per_round"], node_iterations=s["node_iterations"]
            )
        if "refresh" in parts:
            step("refresh latency")
            results["refresh"] = refresh.latency(lab, iterations=s["refresh_iterations"])
        if "storm" in parts:
            step("refresh storm")
            results["storm"] = refresh.storms(lab, sizes=s["storm_sizes"], processes=s["storm_processes"])
        if "throughput" in parts:
            step("throughput")
            results["throughput"] = throughput.run(
                lab,
                seconds=s["tp_seconds"],
                warmup=s["tp_warmup"],
                rounds=s["tp_rounds"],
                connections=s["tp_connections"],
            )
        if "instructions" in parts:
            step("instructions per request (callgrind)")
            results["instructions"] = instructions.run(
                lab, requests=s["ins_requests"], warmup=s["ins_warmup"], pairs=s["ins_pairs"]
            )
        if "scale" in parts:
            step("scale")
            results["scale"] = {
                "sql": scale.sql_load(
                    lab, sizes=s["scale_sizes"], rounds=s["scale_rounds"], per_round=s["scale_per_round"]
                ),
                "memory": scale.memory(lab, sessions=s["memory_sessions"]),
                "cookie_sizes": scale.cookie_sizes(lab),  # last: it resets the emulator
            }
        if "outage" in parts:
            step("outage")
            results["outage"] = outage.run(
                lab,
                sessions=s["outage_sessions"],
                threads=s["outage_threads"],
                off_requests=s["outage_off_requests"],
                on_requests=s["outage_on_requests"],
            )
        if "users" in parts:
            step("many users")
            results["users"] = users.run(lab, sizes=s["users_sizes"], requests=s["users_requests"])
        if "users-http" in parts:
            step("many users through uvicorn")
            results["users_http"] = users_http.run(
                lab, sizes=s["users_http_sizes"], seconds=s["users_http_seconds"], connections=s["tp_connections"]
            )
        if "telemetry" in parts:
            step("OpenTelemetry overhead")
            results["telemetry"] = telemetry.run(
                lab,
                rounds=s["telemetry_rounds"],
                per_round=s["telemetry_per_round"],
                refreshes=s["telemetry_refreshes"],
            )
    results["meta"]["duration_s"] = time.time() - started
    paths = report.write(results, out_dir, docs)
    step("done: " + ", ".join(str(p) for p in paths.values()))
    return results


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    results = run(argv)
    print(report.markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
