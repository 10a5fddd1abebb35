"""`make bench`: issue 14's performance figures, printed and written to bench/results.json.

    python bench/run.py [--smoke] [--only cpu tick ...] [--set cpu_rows=100,1000 ...]
                        [--out bench/results.json] [--docs docs/performance.md]

Needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL). Works in a throwaway
database (`<db>_bench`, dropped after) against a sandbox Odoo in its own
process, so the sandbox's CPU is never counted as regsync's; the figures that
need them start real `celery worker --pool prefork` and `beat` processes.
The sandbox's own floor is measured and printed first. `--smoke` runs every
figure at a tiny size (CI does, through odoo_sync/tests/test_bench_smoke.py):
its timings mean nothing. The figures are in bench/figures/, one module each
(bench/figures/harness.py: what they share); docs/performance.md says what
each one measures.
"""

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

# Production's settings where they change what is measured: DEBUG keeps every SQL
# statement of a worker (up to 9,000) and wraps each cursor. The sandbox is http.
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ODOO_REQUIRE_HTTPS", "false")

import _reliability as common  # after the environment: it sets Django up
from django.conf import settings
from django.db import connection
from figures import FIGURES
from figures.harness import SMOKE, Bench, Sizes, override

DOCS_START, DOCS_END = "<!-- bench:results -->", "<!-- /bench:results -->"


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        postgres = cur.fetchone()[0]
    from odoo_sync.locks import _redis

    redis_version = _redis(settings.REDIS_URL).info("server")["redis_version"]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgres": postgres,
        "redis": redis_version,
    }


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def markdown_table(figures: list[dict]) -> str:
    lines = ["| figure | measured | target | met |", "|---|---|---|---|"]
    for f in figures:
        if "error" in f:
            lines.append(f"| {f['figure']} | failed: {f['error']} | | no |")
            continue
        met = {True: "yes", False: "**no**", None: "-"}[f["met"]]
        lines.append(f"| {f['figure']} | {f['measured']} | {f['target']} | {met} |")
    return "\n".join(lines)


def docs_block(report: dict) -> str:
    m = report["machine"]
    return "\n".join(
        [
            DOCS_START,
            f"Latest run: {report['finished_at']}, commit `{report['commit']}`, "
            f"`make bench` ({'smoke size' if report['smoke'] else 'full size'}"
            + (f", `{' '.join(report['args'])}`" if report["args"] else "")
            + f"), {report['wall_seconds']} s.",
            "",
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['os']}, "
            f"Python {m['python']}, PostgreSQL {m['postgres']}, Redis {m['redis']}; "
            f"load average {report['load_before']} before, {report['load_after']} after "
            "(the machine is shared with other work).",
            "",
            markdown_table(report["figures"]),
            DOCS_END,
        ]
    )


def update_docs(path: Path, block: str) -> None:
    text = path.read_text()
    start, end = text.find(DOCS_START), text.find(DOCS_END)
    if start < 0 or end < start:
        raise SystemExit(f"{path} has no {DOCS_START} ... {DOCS_END} block to replace")
    path.write_text(text[:start] + block + text[end + len(DOCS_END) :])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="every figure at a tiny size (CI)")
    parser.add_argument("--only", nargs="+", choices=list(FIGURES), help="some figures")
    parser.add_argument("--set", nargs="+", default=[], metavar="NAME=VALUE", help="a size")
    parser.add_argument("--out", type=Path, default=common.ROOT / "bench" / "results.json")
    parser.add_argument("--docs", type=Path, help="replace the results block of this file")
    args = parser.parse_args(argv)
    common.require_postgres_and_redis()
    sizes = override(SMOKE if args.smoke else Sizes(), args.set)
    names = [n for n in FIGURES if not args.only or n in args.only]
    # The in-process figures push nothing on commit (no worker listens); edit-latency turns it on.
    settings.SYNC_PUSH_ON_COMMIT = False
    report = {
        "commit": common.git_commit(),
        "smoke": args.smoke,
        "args": (argv if argv is not None else sys.argv[1:]),
        "sizes": dataclasses.asdict(sizes),
        "load_before": load(),
        "figures": [],
    }
    started = time.monotonic()
    with common.throwaway_database("bench"), common.sandbox_process() as sandbox:
        report["machine"] = machine()
        print(
            f"regsync bench ({'smoke' if args.smoke else 'full'} size), commit {report['commit']}, "
            f"{report['machine']['cores']} cores, load average {report['load_before']}",
            flush=True,
        )
        bench = Bench(sizes=sizes, sandbox=sandbox, say=lambda *a: print(*a, flush=True))
        for name in names:
            print(f"\n== {name}: {FIGURES[name].__doc__.splitlines()[0]}", flush=True)
            t0 = time.monotonic()
            try:
                result = FIGURES[name](bench)
            except Exception as exc:  # noqa: BLE001 - one broken figure must not hide the others
                traceback.print_exc()
                result = {"figure": name, "error": f"{type(exc).__name__}: {exc}"}
            result["seconds"] = round(time.monotonic() - t0, 1)
            report["figures"].append(result)
    report["wall_seconds"] = round(time.monotonic() - started)
    report["load_after"] = load()
    report["finished_at"] = time.strftime("%Y-%m-%d %H:%M %Z")
    print("\n" + markdown_table(report["figures"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten {args.out} ({report['wall_seconds']} s, load average {report['load_after']})")
    if args.docs and (args.smoke or args.only or args.set):
        print(f"{args.docs} left as it is: it shows full runs of every figure at full size")
    elif args.docs:
        update_docs(args.docs, docs_block(report))
        print(f"updated {args.docs}")
    return 1 if any("error" in f for f in report["figures"]) else 0


if __name__ == "__main__":
    sys.exit(main())
