"""The kill matrix: a real prefork worker SIGKILLed at each point of a create and an update.

`make kill-matrix` or `python bench/kill_matrix.py [--runs 20] [--seed N]`. Needs
PostgreSQL (DATABASE_URL) and Redis (REDIS_URL); uses a throwaway database.
Prints one line per kill, then the table; writes bench/results/kill-matrix.json.
The harness is odoo_sync/tests/reliability.py, the one the CI-size tests run.
"""

import argparse
import random
import time

import _reliability as bench

from odoo_sync.tests.harness import fresh_broker


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="kills per point (default 20)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random offsets")
    parser.add_argument("--points", nargs="+", default=None, help="a subset of the points")
    args = parser.parse_args()
    bench.require_postgres_and_redis()
    from odoo_sync.tests import reliability

    points = args.points or list(reliability.POINTS)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    started = time.monotonic()
    with (
        bench.throwaway_database(),
        bench.sandbox_process() as odoo_a,
        bench.sandbox_process() as odoo_b,
    ):
        fresh_broker()
        sandboxes = {"create": odoo_a, "update": odoo_b}
        tenants = {
            op: bench.new_tenant(f"Kill {op}", sandboxes[op]) for op in reliability.OPERATIONS
        }
        procs = bench.processes("kill-matrix")
        procs.env.update(reliability.KILL_ENV)
        matrix = reliability.KillMatrix(
            procs=procs, sandboxes=sandboxes, tenants=tenants, rng=random.Random(seed)
        )
        try:
            matrix.setup()
            lock_db = reliability.lock_db_settings()
            for n in range(args.runs):
                for point in points:
                    run = matrix.run(point, lock_db=lock_db)
                    print(
                        f"run {n + 1:2d} {point:13s} offset {run.offset_s:5.3f}s "
                        f"edit in flight {'yes' if run.edit_in_flight else 'no ':3s} "
                        f"at point {run.at_point_when_killed!s:5s} lost {run.lost} "
                        f"duplicates {run.duplicates} stuck {run.stuck_claims} "
                        f"recovered in {run.recovery_s}s",
                        flush=True,
                    )
        finally:
            procs.stop_all()
        summary = matrix.summary()
    wall = round(time.monotonic() - started)
    print()
    print(reliability.kill_matrix_table(summary))
    print(f"\n{len(matrix.runs)} kills ({len(matrix.runs) * 2} drains killed) in {wall} s")
    path = bench.write_results(
        "kill-matrix.json",
        {
            "commit": bench.git_commit(),
            "seed": seed,
            "runs_per_point": args.runs,
            "wall_seconds": wall,
            "settings": reliability.KILL_ENV,
            "offset_windows_s": reliability.WINDOW_SECONDS,
            "summary": summary,
            "kills": [vars(r) for r in matrix.runs],
        },
    )
    print(f"written {path}")
    failed = any(
        row["lost_edits"] or row["duplicate_pos_config"] or row["stuck_claims"] for row in summary
    ) or any(
        row["not_recovered"] or row["tenant_not_sane"] or row["killed_at_point"] != row["runs"]
        for row in summary
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
