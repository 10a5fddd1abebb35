"""The kill matrix and the races of docs/reliability.md, in one place for the tests and bench/.

Both drive real processes (celery prefork workers on Redis, beat, `manage.py
odoo_sync --once`) against sandbox Odoos over HTTP and read their figures
from the sandbox (what Odoo applied) and the database (what regsync
recorded); nothing in regsync is patched or hooked.

Kill matrix: a worker is SIGKILLed (its whole process group) while one
tenant's drain is at a point of a create and another tenant's at the same
point of an update:

- `before_call`: the Odoo call was sent and is parked by the sandbox before
  Odoo applies it;
- `after_apply`: Odoo applied it and the sandbox holds the reply;
- `before_commit`: the reply came back and the worker waits for the register's
  row lock, held by this harness, to record it (its commit cannot happen);
- `after_commit`: the outcome is committed (read back from the database).

Each kill comes after a random extra delay inside the point's window. Then a
fresh worker starts and the beat's drains run until the tenants are quiet.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import psycopg
from django.db import connection, connections
from django.utils import timezone

from cafe.models import Tenant
from odoo_sandbox.control import Sandbox
from odoo_sync.tests.harness import Processes, wait_until
from registers import services
from registers.models import PosConfig, SyncState

POINTS = ("before_call", "after_apply", "before_commit", "after_commit")
OPERATIONS = ("create", "update")
ODOO_METHOD = {"create": "pos.config.load", "update": "pos.config.load"}

# Short drains: the production ordering of timeouts (settings.py refuses any
# other) scaled down, one row 2 x (0.5 + 2) = 5 s < soft limit 9 < hard limit
# 10 < lease 11. The kill matrix needs the short lease so that a dead worker's
# rows come back in seconds; the races need the short soft limit, which ends
# each drain's claiming after 1 s (status `more`, drain re-queued), so that the
# tenant's lock changes hands every second or two instead of one drain keeping
# it for as long as edits come in (with production's 240 s, 8 workers on 500
# rows saw a single drain reach Odoo).
SHORT_DRAINS_ENV = {
    "ODOO_CONNECT_TIMEOUT": "0.5",
    "ODOO_READ_TIMEOUT": "2",
    "SYNC_TASK_SOFT_TIME_LIMIT": "9",
    "SYNC_TASK_TIME_LIMIT": "10",
    "SYNC_CLAIM_SECONDS": "11",
}
KILL_ENV = {**SHORT_DRAINS_ENV, "SYNC_TICK_SECONDS": "1", "SYNC_PUSH_ON_COMMIT": "false"}
# Beat and workers of the races; the edits push a drain on commit (the driver's setting).
RACE_ENV = {**SHORT_DRAINS_ENV, "SYNC_TICK_SECONDS": "0.5", "SYNC_PUSH_ON_COMMIT": "false"}
LEASE_SECONDS = int(KILL_ENV["SYNC_CLAIM_SECONDS"])
# The random extra delay before the kill is drawn from [0, window): a parked
# call must stay parked (under the 2 s read timeout), the row lock and the
# committed state last as long as the harness likes.
WINDOW_SECONDS = {"before_call": 1.0, "after_apply": 1.0, "before_commit": 1.0, "after_commit": 0.5}


def odoo_state(sandbox: Sandbox) -> dict[int, tuple[str, bool]]:
    return {c["id"]: (c["name"], c["active"]) for c in sandbox.pos_configs()}


def local_state(tenant_id: int) -> dict[int, dict]:
    rows = PosConfig.objects.filter(tenant_id=tenant_id).values(
        "pk", "name", "is_active", "odoo_pos_config_id", "sync_state", "claim_token"
    )
    return {r["pk"]: r for r in rows}


def lost_edits(rows: dict[int, dict], odoo: dict[int, tuple[str, bool]]) -> list[int]:
    """Registers whose live name and active flag are not what their Odoo record holds."""
    return [
        pk
        for pk, r in rows.items()
        if odoo.get(r["odoo_pos_config_id"]) != (r["name"], r["is_active"])
    ]


def stuck_claims(tenant_ids: list[int]) -> int:
    """Rows still claimed although their lease ran out."""
    return PosConfig.objects.filter(
        tenant_id__in=tenant_ids, claim_token__isnull=False, claimed_until__lt=timezone.now()
    ).count()


def quiet(tenant_id: int, sandbox: Sandbox) -> bool:
    """Everything synced, nothing claimed, Odoo holds each register's live values, once."""
    rows = local_state(tenant_id)
    if any(r["sync_state"] != SyncState.SYNCED or r["claim_token"] for r in rows.values()):
        return False
    odoo = odoo_state(sandbox)
    return len(odoo) == len(rows) and not lost_edits(rows, odoo)


def tenant_sane(tenant_id: int) -> bool:
    """Not paused, not backing off, no dead letter, no attempt charged."""
    tenant = Tenant.objects.get(pk=tenant_id)
    charged = PosConfig.objects.filter(tenant_id=tenant_id, sync_retries__gt=0).exists()
    dead = PosConfig.objects.filter(tenant_id=tenant_id, sync_state=SyncState.SYNC_ERROR).exists()
    return not (tenant.odoo_paused_at or tenant.odoo_unreachable_since or charged or dead)


class RowLock:
    """A row lock held from another database connection, as a slow transaction would."""

    def __init__(self, settings_dict: dict):
        params = {
            "host": settings_dict["HOST"] or "127.0.0.1",
            "port": settings_dict["PORT"] or 5432,
            "user": settings_dict["USER"],
            "password": settings_dict["PASSWORD"] or None,
            "dbname": settings_dict["NAME"],
        }
        self.conn = psycopg.connect(**params)
        self.probe = psycopg.connect(**params, autocommit=True)

    def hold(self, register_ids: list[int]) -> None:
        self.conn.execute(
            "SELECT id FROM cafe_pos_configs WHERE id = ANY(%s) FOR UPDATE", [register_ids]
        )

    def waiting(self) -> int:
        """Backends blocked behind this connection's locks."""
        return self.probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
            [self.conn.info.backend_pid],
        ).fetchone()[0]

    def release(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()
        self.probe.close()


@dataclass
class KillRun:
    point: str
    run: int
    offset_s: float
    # Odd runs edit both registers once more while the worker is at the point
    # (at before_commit, where the harness holds the rows: right after the kill).
    edit_in_flight: bool = False
    at_point_when_killed: bool = False
    recovered: bool = False
    recovery_s: float = 0.0
    # per operation: lost edits, duplicate pos.config, repeated Odoo mutations
    lost: dict = field(default_factory=dict)
    duplicates: dict = field(default_factory=dict)
    resent: dict = field(default_factory=dict)
    stuck_claims: int = 0
    tenants_sane: bool = False


class KillMatrix:
    """Runs kill points against a live worker; `setup()` once, then `run(point)` any number."""

    def __init__(
        self,
        *,
        procs: Processes,
        sandboxes: dict[str, Sandbox],
        tenants: dict[str, Tenant],
        rng: random.Random,
    ):
        self.procs = procs
        self.sandboxes = sandboxes
        self.tenants = tenants
        self.rng = rng
        self.runs: list[KillRun] = []
        self.worker = 0
        self.names = 0
        self.updated: PosConfig | None = None

    def _name(self) -> str:
        self.names += 1
        return f"Register {self.names:04d}"

    def start_worker(self) -> str:
        # Two children: the create's and the update's drains are at the point at once.
        self.worker += 1
        name = f"kill-worker-{self.worker}"
        self.procs.worker(name, concurrency=2)
        return name

    def setup(self) -> None:
        """Beat, a worker, and the update tenant's register created in Odoo."""
        self.procs.beat()
        self.current = self.start_worker()
        self.procs.wait_ready(self.current)
        self.updated = services.add_register(self.tenants["update"], name=self._name(), prefix="K")
        self.wait_quiet(timeout=60)

    def wait_quiet(self, *, timeout: float) -> bool:
        try:
            wait_until(
                lambda: all(quiet(self.tenants[op].pk, self.sandboxes[op]) for op in OPERATIONS),
                timeout=timeout,
                interval=0.1,
                what="tenants quiet",
            )
        except AssertionError:
            return False
        return True

    def _edit(self, op: str, reg: PosConfig) -> PosConfig:
        """One more edit while (or right after) the worker is at the point."""
        if op == "update":
            return services.set_register_active(reg, active=not reg.is_active)
        return services.rename_register(reg, name=self._name())

    def _parked(self, when: str) -> bool:
        parked = [self.sandboxes[op].parked() for op in OPERATIONS]
        return all(
            len(p) == 1 and p[0]["when"] == when and p[0]["key"] == ODOO_METHOD[op]
            for p, op in zip(parked, OPERATIONS, strict=True)
        )

    def run(self, point: str, *, lock_db: dict) -> KillRun:
        if point not in POINTS:
            raise ValueError(f"unknown kill point {point!r}")
        run = sum(r.point == point for r in self.runs) + 1
        record = KillRun(
            point=point,
            run=run,
            offset_s=round(self.rng.uniform(0, WINDOW_SECONDS[point]), 3),
            edit_in_flight=run % 2 == 1,
        )
        before = {op: self._mutations(op) for op in OPERATIONS}
        counts = {op: self._counts(op) for op in OPERATIONS}
        park = {"before_call": "before", "after_apply": "after", "before_commit": "after"}.get(
            point
        )
        for op in OPERATIONS:
            if park:
                self.sandboxes[op].park_next(park, method=ODOO_METHOD[op], seconds=60)
        # The operations: a new register to create, a rename to write.
        regs = {
            "create": services.add_register(self.tenants["create"], name=self._name(), prefix="K"),
            "update": services.rename_register(self.updated, name=self._name()),
        }
        lock = RowLock(lock_db) if point == "before_commit" else None
        try:
            self._reach(point, regs, lock)
            if record.edit_in_flight and point != "before_commit":
                regs = {op: self._edit(op, reg) for op, reg in regs.items()}
            time.sleep(record.offset_s)  # the random offset inside the point's window
            record.at_point_when_killed = self._still_at(point, regs, lock)
            self.procs.kill(self.current)
            killed_at = time.monotonic()
            record.at_point_when_killed &= self._still_at(point, regs, lock)
        finally:
            # The dead worker's call: one parked before Odoo applied it is never applied.
            for op in OPERATIONS:
                self.sandboxes[op].release_parked("drop" if park == "before" else "continue")
            if lock is not None:
                lock.release()
                lock.close()
        if record.edit_in_flight and point == "before_commit":
            regs = {op: self._edit(op, reg) for op, reg in regs.items()}
        self.updated = regs["update"]
        self.current = self.start_worker()
        record.recovered = self.wait_quiet(timeout=LEASE_SECONDS + 45)
        record.recovery_s = round(time.monotonic() - killed_at, 1)
        for op in OPERATIONS:
            tenant_id, sandbox = self.tenants[op].pk, self.sandboxes[op]
            reg = PosConfig.objects.get(pk=regs[op].pk)
            rows = {reg.pk: local_state(tenant_id)[reg.pk]}
            record.lost[op] = len(lost_edits(rows, odoo_state(sandbox)))
            configs, registers = self._counts(op)
            record.duplicates[op] = (configs - registers) - (counts[op][0] - counts[op][1])
            new = self._mutations(op)[len(before[op]) :]
            states = Counter((m[0], m[2], m[3]) for m in new)
            record.resent[op] = sum(n - 1 for n in states.values())
        tenant_ids = [self.tenants[op].pk for op in OPERATIONS]
        record.stuck_claims = stuck_claims(tenant_ids)
        record.tenants_sane = all(tenant_sane(t) for t in tenant_ids)
        self.runs.append(record)
        return record

    def _mutations(self, op: str) -> list:
        return self.sandboxes[op].mutations()

    def _counts(self, op: str) -> tuple[int, int]:
        configs = len(self.sandboxes[op].pos_configs())
        return configs, PosConfig.objects.filter(tenant=self.tenants[op]).count()

    def _reach(self, point: str, regs: dict[str, PosConfig], lock: RowLock | None) -> None:
        """Until both drains are at the point (each observed from outside the worker)."""
        if point == "before_call":
            wait_until(lambda: self._parked("before"), timeout=30, what="calls parked unapplied")
        elif point == "after_apply":
            wait_until(lambda: self._parked("after"), timeout=30, what="calls applied, parked")
        elif point == "before_commit":
            wait_until(lambda: self._parked("after"), timeout=30, what="calls applied, parked")
            lock.hold([reg.pk for reg in regs.values()])
            for op in OPERATIONS:
                self.sandboxes[op].release_parked("continue")
            wait_until(
                lambda: lock.waiting() == 2, timeout=30, what="both drains blocked on recording"
            )
        else:
            wait_until(
                lambda: all(self._committed(reg) for reg in regs.values()),
                timeout=30,
                what="outcomes committed",
            )

    def _committed(self, reg: PosConfig) -> bool:
        row = PosConfig.objects.get(pk=reg.pk)
        return row.sync_state == SyncState.SYNCED and row.odoo_pos_config_id is not None

    def _still_at(self, point: str, regs: dict, lock: RowLock | None) -> bool:
        if point == "before_call":
            return self._parked("before")
        if point == "after_apply":
            return self._parked("after")
        if point == "before_commit":
            return lock.waiting() == 2
        return True  # committed stays committed

    def summary(self) -> list[dict]:
        """One row per point and operation: runs and the figures summed over them."""
        table = []
        for point in POINTS:
            runs = [r for r in self.runs if r.point == point]
            if not runs:
                continue
            for op in OPERATIONS:
                table.append(
                    {
                        "point": point,
                        "operation": op,
                        "runs": len(runs),
                        "killed_at_point": sum(r.at_point_when_killed for r in runs),
                        "edit_in_flight": sum(r.edit_in_flight for r in runs),
                        "lost_edits": sum(r.lost[op] for r in runs),
                        "duplicate_pos_config": sum(r.duplicates[op] for r in runs),
                        "stuck_claims": sum(r.stuck_claims for r in runs),
                        "not_recovered": sum(not r.recovered for r in runs),
                        "tenant_not_sane": sum(not r.tenants_sane for r in runs),
                        "resent_same_values": sum(r.resent[op] for r in runs),
                        "max_recovery_s": max(r.recovery_s for r in runs),
                        "offsets_s": [r.offset_s for r in runs],
                    }
                )
        return table


# --- races --------------------------------------------------------------------------------


class _Loop:
    """A thread repeating `_step` until stopped; `errors` says what stopped it otherwise."""

    join_timeout = 60.0

    def __init__(self, name: str):
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.join_timeout)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._step()
        except Exception as exc:  # noqa: BLE001 - reported by the caller, which fails
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    def _step(self) -> None:
        raise NotImplementedError


class EditStream(_Loop):
    """A thread making edits through registers.services until stopped.

    Every edit gives its register a (name, active) it never had before (a
    fresh name with each rename or reactivation), so every write Odoo applies
    can be traced to exactly one edit: the one whose values it carries.
    """

    def __init__(
        self,
        register_ids: list[int],
        rng: random.Random,
        *,
        limit: int | None = None,
        pause: float = 0.005,
    ):
        super().__init__("edits")
        self.limit = limit  # stops by itself after this many edits
        self.rows = {r.pk: r for r in PosConfig.objects.filter(pk__in=register_ids).order_by("pk")}
        self.states: dict[int, list[tuple[str, bool]]] = {
            pk: [(r.name, r.is_active)] for pk, r in self.rows.items()
        }
        self.rng = rng
        self.pause = pause
        self.edits = 0

    def _step(self) -> None:
        pk = self.rng.choice(list(self.rows))
        reg = self.rows[pk]
        name = f"{reg.name.split(' ~')[0]} ~{self.edits}"
        if not reg.is_active:
            reg = services.edit_register(reg, name=name, active=True)
        elif self.rng.random() < 0.3:
            reg = services.set_register_active(reg, active=False)
        else:
            reg = services.rename_register(reg, name=name)
        self.rows[pk] = reg
        self.states[pk].append((reg.name, reg.is_active))
        self.edits += 1
        if self.limit is not None and self.edits >= self.limit:
            self._stop.set()
            return
        self._stop.wait(self.pause)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()


class OnceLoop(_Loop):
    """`manage.py odoo_sync --once --tenant SLUG --json` run again and again until stopped."""

    join_timeout = 300.0  # a --once run in progress is let finish

    def __init__(self, procs: Processes, name: str, slug: str):
        super().__init__(name)
        self.procs = procs
        self.name = name
        self.slug = slug
        self.statuses: Counter = Counter()
        self.runs = 0

    def _step(self) -> None:
        self.runs += 1
        name = f"{self.name}-{self.runs}"
        proc = self.procs.manage(name, "odoo_sync", "--once", "--tenant", self.slug, "--json")
        proc.wait(timeout=300)
        self.procs.running.pop(name, None)
        text = self.procs.log(name)
        try:  # the --json report, among any log lines
            report, _ = json.JSONDecoder().raw_decode(text, text.rindex('{\n  "tenants"'))
        except ValueError:
            self.statuses["unreadable"] += 1
            return
        for result in report["tenants"]:
            self.statuses[result["status"]] += 1


def worker_drain_statuses(log: str) -> Counter:
    """Statuses of the drain tasks a worker logged ("... succeeded in 0.01s: {...}")."""
    statuses: Counter = Counter()
    for line in log.splitlines():
        if "odoo_sync.drain_tenant[" in line and "succeeded in" in line:
            marker = "'status': '"
            at = line.find(marker)
            if at >= 0:
                statuses[line[at + len(marker) :].split("'", 1)[0]] += 1
    return statuses


@dataclass
class RaceFigures:
    workers: int
    rows: int
    edits: int = 0
    once_runs: int = 0
    drain_attempts: int = 0
    found_busy: int = 0
    drains_in_odoo: int = 0
    max_concurrent_drains: int = 0
    creates: int = 0
    max_creates_per_row: int = 0
    duplicate_pos_config: int = 0
    writes: int = 0
    edits_written: int = 0
    edits_coalesced: int = 0
    writes_per_written_edit: float = 0.0
    max_writes_of_one_edit: int = 0
    writes_of_values_never_made: int = 0
    lost_edits: int = 0
    stuck_claims: int = 0
    quiet: bool = False
    seconds: float = 0.0
    errors: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def race_figures(
    figures: RaceFigures, *, tenant_id: int, sandbox: Sandbox, stream: EditStream
) -> RaceFigures:
    """What Odoo applied, read against the edits that were made.

    writes_per_written_edit = writes Odoo applied / distinct edits they carried;
    1.0 means no edit was ever written twice. An edit that a later edit of the
    same register overtook before any drain read it is coalesced: it is never
    written on its own, and the later one carries the register's values.
    """
    rows = local_state(tenant_id)
    by_odoo_id = {r["odoo_pos_config_id"]: pk for pk, r in rows.items()}
    mutations = sandbox.mutations()
    creates = Counter(m[0] for m in mutations if m[1] == "create")
    figures.creates = sum(creates.values())
    figures.max_creates_per_row = max(creates.values(), default=0)
    figures.duplicate_pos_config = len(sandbox.pos_configs()) - len(rows)
    writes = [m for m in mutations if m[1] != "create"]
    written = Counter((m[0], m[2], m[3]) for m in writes)
    carried = Counter((m[0], m[2], m[3]) for m in mutations)  # a create carries values too
    figures.writes = len(writes)
    made = {(pk, state) for pk, states in stream.states.items() for state in states[1:]}
    reached = {(by_odoo_id.get(m[0]), (m[2], m[3])) for m in mutations}
    figures.edits_written = len(made & reached)
    figures.edits_coalesced = len(made - reached)
    figures.writes_per_written_edit = round(len(writes) / len(written), 3) if written else 0.0
    figures.max_writes_of_one_edit = max(carried.values(), default=0)
    every_state = {(pk, state) for pk, states in stream.states.items() for state in states}
    figures.writes_of_values_never_made = len(reached - every_state)
    figures.lost_edits = len(lost_edits(rows, odoo_state(sandbox)))
    figures.stuck_claims = stuck_claims([tenant_id])
    figures.drains_in_odoo = len(sandbox.sessions())
    figures.max_concurrent_drains = sandbox.max_concurrent_sessions()
    return figures


def run_races(
    *,
    procs: Processes,
    tenant: Tenant,
    sandbox: Sandbox,
    workers: int,
    rows: int,
    edits: int,
    once_loops: int = 2,
    rng: random.Random,
    quiet_timeout: float = 300,
    edit_timeout: float = 600,
) -> RaceFigures:
    """One tenant, `rows` new registers, `workers` worker processes, beat, `--once` loops, edits.

    The registers are added before anything runs, so their creates race as
    well; `edits` edits are made, one after another, while workers (on-commit
    pushes and fast ticks), beat and the --once loops all drain the one
    tenant. A fixed amount of work, so a slow machine takes longer, never
    does less: `edit_timeout` is only a bound on a hang.
    """
    started = time.monotonic()
    figures = RaceFigures(workers=workers, rows=rows)
    regs = [services.add_register(tenant, name=f"Race {n:04d}", prefix="R") for n in range(rows)]
    stream = EditStream([r.pk for r in regs], rng, limit=edits)
    names = [f"race-worker-{n + 1}" for n in range(workers)]
    for name in names:
        procs.worker(name, concurrency=1)
    for name in names:
        procs.wait_ready(name)
    procs.beat()
    loops = [OnceLoop(procs, f"once-{n + 1}", tenant.slug).start() for n in range(once_loops)]
    stream.start()
    wait_until(lambda: stream.done, timeout=edit_timeout, interval=0.2, what=f"{edits} edits")
    stream.stop()
    for loop in loops:
        loop.stop()
    try:
        wait_until(
            lambda: quiet(tenant.pk, sandbox), timeout=quiet_timeout, interval=0.5, what="quiet"
        )
        figures.quiet = True
    except AssertionError:
        figures.quiet = False
    statuses: Counter = Counter()
    for name in names:
        procs.stop(name)
        statuses += worker_drain_statuses(procs.log(name))
    procs.stop("beat")
    for loop in loops:
        statuses += loop.statuses
        figures.once_runs += loop.runs
    figures.edits = stream.edits
    figures.errors = stream.errors + [e for loop in loops for e in loop.errors]
    figures.errors += [f"drain {s}" for s in statuses if s in ("crashed", "unreadable")]
    figures.drain_attempts = sum(statuses.values())
    figures.found_busy = statuses["busy"]
    race_figures(figures, tenant_id=tenant.pk, sandbox=sandbox, stream=stream)
    figures.seconds = round(time.monotonic() - started, 1)
    return figures


def _markdown(columns: list[tuple[str, Callable]], rows: list) -> str:
    lines = ["| " + " | ".join(head for head, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell(row)) for _, cell in columns) + " |" for row in rows]
    return "\n".join(lines)


KILL_COLUMNS = [
    ("point", lambda r: r["point"]),
    ("operation", lambda r: r["operation"]),
    ("runs", lambda r: r["runs"]),
    ("with an edit in flight", lambda r: r["edit_in_flight"]),
    ("killed at point", lambda r: r["killed_at_point"]),
    ("lost edits", lambda r: r["lost_edits"]),
    ("duplicate pos.config", lambda r: r["duplicate_pos_config"]),
    ("rows claimed past lease", lambda r: r["stuck_claims"]),
    ("not recovered or not sane", lambda r: r["not_recovered"] + r["tenant_not_sane"]),
    ("same values re-sent", lambda r: r["resent_same_values"]),
    ("max recovery (s)", lambda r: r["max_recovery_s"]),
]

RACE_COLUMNS = [
    ("workers", lambda f: f.workers),
    ("rows", lambda f: f.rows),
    ("edits", lambda f: f.edits),
    ("drain attempts", lambda f: f.drain_attempts),
    ("found busy", lambda f: f.found_busy),
    ("drains that reached Odoo", lambda f: f.drains_in_odoo),
    ("max concurrent drains", lambda f: f.max_concurrent_drains),
    ("creates per row (max)", lambda f: f.max_creates_per_row),
    ("duplicate pos.config", lambda f: f.duplicate_pos_config),
    ("writes", lambda f: f.writes),
    ("edits written", lambda f: f.edits_written),
    ("edits coalesced", lambda f: f.edits_coalesced),
    ("writes per written edit", lambda f: f"{f.writes_per_written_edit:.2f}"),
    ("lost edits", lambda f: f.lost_edits),
    ("rows claimed at the end", lambda f: f.stuck_claims),
    ("seconds", lambda f: f.seconds),
]


def kill_matrix_table(summary: list[dict]) -> str:
    return _markdown(KILL_COLUMNS, summary)


def races_table(results: list[RaceFigures]) -> str:
    return _markdown(RACE_COLUMNS, results)


def lock_db_settings() -> dict:
    return dict(connection.settings_dict)
