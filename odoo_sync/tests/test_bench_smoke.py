"""`make bench` keeps working: every figure of bench/run.py at its smoke size.

Timings on a shared CI machine mean nothing, so none is asserted: only that
each figure ran (real worker and beat processes, the TLS front, the throwaway
database) and reported its numbers. The full run: `make bench`.
"""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

FIGURES = {
    "sandbox floor": ["load_ms_per_call", "write_ms_per_call", "write_ms_per_call_with_20ms"],
    "own CPU and queries per drained row": ["rows"],
    "one tenant, creates then renames": ["direct_creates_per_s", "drain_renames_per_s"],
    "OdooClient over TLS, kept session vs new connection per call": ["ratio"],
    "many tenants, one worker": ["rows_per_s", "ideal_rows_per_s", "share_of_ideal"],
    "one rename's drain": ["by_version"],
    "edit-to-Odoo latency": ["median_ms", "p99_ms"],
    "edit-to-Odoo latency, real Odoo costs": ["median_ms", "p99_ms"],
    "worker resident memory": ["rss_before_mb", "rss_after_mb", "rows_per_s"],
    "tick": ["rows", "explain"],
}


def test_every_figure_runs_at_smoke_size_and_reports_its_numbers(prefork_on_redis, tmp_path):
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke", "--out", str(out)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    report = json.loads(out.read_text())
    figures = {f["figure"]: f for f in report["figures"]}
    assert sorted(figures) == sorted(FIGURES)
    for name, keys in FIGURES.items():
        assert "error" not in figures[name], figures[name]
        assert figures[name]["measured"] and figures[name]["target"]
        for key in keys:
            assert figures[name][key], (name, key, figures[name])
    # Both sizes of the per-row figure, creates and updates, each with its numbers.
    per_row = figures["own CPU and queries per drained row"]["rows"]
    assert {(x["rows"], x["phase"]) for x in per_row} == {
        (n, phase) for n in report["sizes"]["cpu_rows"] for phase in ("creates", "updates")
    }
    assert all(x["cpu_ms_per_row"] > 0 and x["queries_per_row"] > 0 for x in per_row)
    # The tick is one query at every size and due count, and its plan is printed.
    assert {x["queries"] for x in figures["tick"]["rows"]} == {1}
    # A warm drain of one rename is one call on every version: no login, no detection;
    # the write by external id (never onto another register's config after a restore).
    for version, found in figures["one rename's drain"]["by_version"].items():
        assert found["calls_per_drain"] == {"pos.config.load": 1}, (version, found)
        # After a connection edit: a new session and one login (JSON-2's is context_get).
        cold = found["cold_drain_calls"]
        logins = cold.get("common.authenticate", 0) + cold.get("res.users.context_get", 0)
        assert logins == 1, (version, found)
    assert "EXPLAIN (ANALYZE, BUFFERS)" in done.stdout
    headers = [line for line in done.stdout.splitlines() if line.startswith("== ")]
    assert headers[0].startswith("== floor:")  # the sandbox's own floor comes first
    assert "| figure | measured | target | met |" in done.stdout
