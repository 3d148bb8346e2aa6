"""`hookmesh bench`: throughput and latency of hookmesh against the raw JetStream limit, in one run."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import msgspec

from shared.bench.runner import Bench, temp_workdir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=20_000, help="events per throughput run (default 20000)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent HTTP connections (default 64)")
    parser.add_argument("--rate", type=float, default=1000, help="fixed rate for the latency run (default 1000/s)")
    parser.add_argument("--rate-seconds", type=float, default=10, help="length of the fixed-rate run (default 10s)")
    parser.add_argument("--sample", type=float, default=0.01, help="trace sampling ratio (default 0.01)")
    parser.add_argument("--sync-interval", default="1s", help="JetStream fsync interval of the server the bench "
                        "starts: 'always' or a duration (default 1s, as hookmesh up)")
    parser.add_argument("--soak", type=float, default=0, metavar="SECONDS",
                        help="after the other runs, hold the fixed rate this long and report RSS growth (e.g. 600)")
    parser.add_argument("--out", default="bench-results", help="folder for bench.json and bench.png")


def table(report: dict[str, Any]) -> str:
    rows = [f"{'run':<46} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"]
    for r in report["results"]:
        p50 = f"{r['p50_ms']:.1f}" if r["p50_ms"] is not None else "-"
        p99 = f"{r['p99_ms']:.1f}" if r["p99_ms"] is not None else "-"
        rows.append(f"{r['name']:<46} {r['events_per_s']:>10,.0f} {p50:>8} {p99:>8} {r['errors']:>6}")
    ratios = report["ratios"]
    rows.append("")
    rows.append(f"hookmesh end to end / raw JetStream limit: {ratios['end_to_end_vs_raw']:.1%}")
    rows.append(f"hookmesh ingress alone / bare aiohttp:     {ratios['ingress_vs_bare_aiohttp']:.1%}")
    rows.append("")
    rows.append(f"{'process':<12} {'cpu s (max run)':>16} {'rss MB':>8} {'rss peak MB':>12}")
    for name, proc in report["processes"].items():
        rows.append(f"{name:<12} {proc['cpu_s_max_run']:>16} {proc['rss_mb']:>8} {proc['rss_peak_mb']:>12}")
    rows.append(f"hookmesh up (all services, one process) idle RSS: {report['hookmesh_up_idle_rss_mb']} MB")
    soak = report.get("soak")
    if soak:
        rows.append(f"soak {soak['seconds']:.0f}s at {soak['rate']:.0f}/s: {soak['delivered']}/{soak['events']} "
                    f"delivered, p50 {soak['p50_ms']} ms, p99 {soak['p99_ms']} ms; RSS growth after the first minute: "
                    + ", ".join(f"{n} {v['growth']:+} MB" for n, v in soak["rss_mb"].items()))
    machine = report["machine"]
    rows.append(f"\n{machine['cpus']} CPUs, {machine['platform']}, Python {machine['python']}, {report['when']}")
    return "\n".join(rows)


def chart(report: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    results = [r for r in report["results"] if " at " not in r["name"]]
    names = [r["name"].replace(" (", "\n(") for r in results]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    colors = ["#999999" if r["name"].startswith(("raw", "bare")) else "#2b7bb9" for r in results]
    bars = ax.barh(names, [r["events_per_s"] for r in results], color=colors)
    ax.bar_label(bars, labels=[f"{r['events_per_s']:,.0f}/s" for r in results], padding=4)
    ax.invert_yaxis()
    ax.set_xlabel("events per second (higher is better)")
    machine = report["machine"]
    ax.set_title(f"hookmesh bench, {machine['cpus']} CPUs, {report['when'][:10]}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def _write(out: Path, report: bytes) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_bytes(report)


async def main(args: argparse.Namespace) -> int:
    workdir = temp_workdir()
    print(f"hookmesh bench: logs and data in {workdir}", file=sys.stderr)
    bench = Bench(events=args.events, rate=args.rate, rate_seconds=args.rate_seconds, connections=args.connections,
                  workdir=workdir, sample_ratio=args.sample, sync_interval=args.sync_interval,
                  soak_seconds=args.soak)
    report = await bench.run()
    out = Path(args.out)
    await asyncio.to_thread(_write, out, msgspec.json.format(msgspec.json.encode(report), indent=2))
    print()
    print(table(report))
    if chart(report, out / "bench.png"):
        print(f"\nwrote {out / 'bench.json'} and {out / 'bench.png'}")
    else:
        print(f"\nwrote {out / 'bench.json'} (install matplotlib for the chart: pip install 'hookmesh[bench]')")
    return 0
