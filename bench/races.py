"""The races: 2, 4 and 8 workers, fast ticks and `odoo_sync --once` on one tenant while edits come.

`make races` or `python bench/races.py [--workers 2 4 8] [--rows 500]
[--edits 800]`. Needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL);
uses a throwaway database. Prints the table; writes bench/results/races.json.
The harness is odoo_sync/tests/reliability.py, the one the CI-size test runs.
"""

import argparse
import random
import time

import _reliability as bench

from odoo_sync.tests.harness import fresh_broker


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--edits", type=int, default=800, help="edits made while they race")
    parser.add_argument("--once-loops", type=int, default=2, help="concurrent --once loops")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    bench.require_postgres_and_redis()
    from django.conf import settings

    from odoo_sync.tests import reliability

    # The edits push a drain on commit, as an admin's do.
    settings.SYNC_PUSH_ON_COMMIT = True
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    started = time.monotonic()
    results = []
    with bench.throwaway_database():
        for workers in args.workers:
            with bench.sandbox_process() as sandbox:
                fresh_broker()
                tenant = bench.new_tenant(f"Race {workers}", sandbox)
                procs = bench.processes(f"races-{workers}")
                procs.env.update(reliability.RACE_ENV)
                try:
                    figures = reliability.run_races(
                        procs=procs,
                        tenant=tenant,
                        sandbox=sandbox,
                        workers=workers,
                        rows=args.rows,
                        edits=args.edits,
                        once_loops=args.once_loops,
                        rng=random.Random(seed + workers),
                    )
                finally:
                    procs.stop_all()
            results.append(figures)
            print(reliability.races_table([figures]).splitlines()[-1], flush=True)
    wall = round(time.monotonic() - started)
    print()
    print(reliability.races_table(results))
    print(f"\n{len(results)} races in {wall} s")
    path = bench.write_results(
        "races.json",
        {
            "commit": bench.git_commit(),
            "seed": seed,
            "wall_seconds": wall,
            "rows": args.rows,
            "edits": args.edits,
            "once_loops": args.once_loops,
            "settings": reliability.RACE_ENV,
            "results": [f.as_dict() for f in results],
        },
    )
    print(f"written {path}")
    failed = any(
        f.errors
        or not f.quiet
        or f.max_concurrent_drains != 1
        or f.max_creates_per_row != 1
        or f.duplicate_pos_config
        or f.max_writes_of_one_edit != 1
        or f.writes_of_values_never_made
        or f.lost_edits
        or f.stuck_claims
        for f in results
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
