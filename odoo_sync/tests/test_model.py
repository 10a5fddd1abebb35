"""Model-based test: random interleavings of everything that changes registers, tenants and Odoo.

A hypothesis state machine drives two tenants and two sandbox Odoos over
HTTP, on PostgreSQL, through the services the admin uses (with an actor):
add / rename / deactivate / reactivate / prefix edits, "Retry sync now",
plan changes, connection edits (new key, new database, the other Odoo),
sandbox faults and clock jumps; and drains opened and stepped one step at a
time (login, claim a batch, take a row, call Odoo, record the outcome), so
that any rule can run between a row's call and its record, or a drain can be
given up or killed at any step. Three race rules make that window common: each
makes due work (a create or an update) on a tenant that can drain, steps a
drain to that row's call (a fault of Odoo's may meet it), lets something land
before the record (an edit of that register, "Retry sync now", a plan or
connection change, a revoked key, a second drain, the leases running out, the
record deleted in Odoo), records, and goes on. Every drain of the model is
stepped, so each fault the sandboxes' ledgers say a call met is written down
against the row whose call it was: a row's attempts are checked against its
own faults, exactly. After every step the invariants hold; at the end the
faults stop, the operator does what the admin would, drains run to quiescence
and everything must be in step with the Odoo each tenant points at.
docs/reliability.md explains how to run it and replay a seed.

Profiles (HYPOTHESIS_PROFILE): `quick` (`make test`'s default: a fixed seed
plus a random one, both printed, a few seconds), `ci` (the same, at the size
CI runs on PostgreSQL: REGSYNC_TEST_PROFILE=ci, set by .ci/run) and `fuzz`
(`make fuzz-model`: random seeds for MODEL_FUZZ_MINUTES). MODEL_SEED=<n>
replays one seed. It runs on SQLite as on PostgreSQL: every drain is stepped
in this one thread.
"""

import functools
import os
import random
import sys
import time
import xmlrpc.client
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db.models import Max
from freezegun import freeze_time
from hypothesis import HealthCheck, Phase, seed
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from cafe.models import Plan, Tenant
from cafe.tests.factories import TenantFactory
from odoo_sync import tenants
from odoo_sync.drain import Drain, TenantResult, TenantStatus, drain_tenant, open_drain
from odoo_sync.models import SyncAttempt
from registers import services
from registers.models import ErrorKind, PosConfig, RegisterEvent, SyncState
from registers.state import Event

pytestmark = pytest.mark.django_db(transaction=True)

LOAD, WRITE = "pos.config.load", "pos.config.write"
ADMIN, OPERATOR = "admin@model", "operator@model"
START = "2031-03-03 09:00:00"  # every example's data is made inside this frozen clock
NAMES = ["Bar", "bar", "Terrace", "Counter", "Kiosk", "Patio"]
PREFIXES = ["A", "BAR1", "T2", "K"]
FOREIGN = "Foreign till"  # a pos.config regsync does not own, in each Odoo
MAX_REGISTERS = 8
MAX_OPEN_DRAINS = 2
FIXED_SEED = 20310303
# How far a drain is advanced: up to a call made but not recorded (the window
# where edits, plan and connection changes race the outcome), a row claimed,
# or one step.
UNTIL = ["called", "claimed", "one step"]
# What lands between a race's call and its record, and what its drain does next.
MEDDLES = ["nothing", "rename", "(de)activate", "operator retry", "starter", "key", "right db"]
MEDDLES += ["wrong db", "move", "key revoked", "second drain", "lease runs out", "record deleted"]
THEN = ["to its end", "left open", "given up"]
# What guards a create in flight: the divergence check (an edit keeps a create's claim)
# and the connection's revision (a move leaves it unrelinked, it has no id yet).
CREATE_MEDDLES = ["rename", "(de)activate", "move", "wrong db", "starter", "lease runs out"]

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or (
    "ci" if os.environ.get("REGSYNC_TEST_PROFILE") == "ci" else "quick"
)
_common = dict(
    deadline=None,
    database=None,  # the seeds are the record: printed, replayed with MODEL_SEED
    print_blob=True,
    suppress_health_check=list(HealthCheck),
    # MODEL_SHRINK=0: stop at the first failing example, unshrunk (shrinking one takes
    # minutes): to try quickly whether the model catches a planted bug. Replaying the
    # printed seed without it shrinks the example.
    phases=[Phase.generate]
    if os.environ.get("MODEL_SHRINK") == "0"
    else [Phase.generate, Phase.shrink, Phase.explain],
)
hsettings.register_profile("quick", max_examples=15, stateful_step_count=36, **_common)
hsettings.register_profile("ci", max_examples=40, stateful_step_count=36, **_common)
hsettings.register_profile("fuzz", max_examples=40, stateful_step_count=60, **_common)
FUZZ_MINUTES = float(os.environ.get("MODEL_FUZZ_MINUTES", "10"))


def _fault_xml(code: int, text: str) -> str:
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, text), methodresponse=True)


HTML = "<!DOCTYPE html><html><title>Down for maintenance</title></html>"

VALIDATION_FAULT = _fault_xml(2, "The operation cannot be completed: invalid name")

# name -> inject(sandbox, method): one fault, met by the next call of `method` (None: any)
FAULTS = {
    "http 502": lambda o, m: o.fail_next(502, method=m),
    "http 503": lambda o, m: o.fail_next(503, method=m),
    "read timeout": lambda o, m: o.timeout_next(seconds=3, method=m),
    "reply lost after apply": lambda o, m: o.drop_next("after", method=m),
    "connection reset": lambda o, m: o.drop_next("before", method=m),
    "serialization conflict": lambda o, m: o.serialization_failure_next(method=m),
    "odoo database down": lambda o, m: o.database_down_next(method=m),
    "html page": lambda o, m: o.reply_body_next(HTML, content_type="text/html", method=m),
    "html 503 page": lambda o, m: o.reply_body_next(
        HTML, status=503, content_type="text/html", method=m
    ),
    "validation": lambda o, m: o.reply_body_next(VALIDATION_FAULT, method=m),
}
# Met by the raced row's call (a read timeout costs a second of wall clock: left to odoo_fault).
RACE_FAULTS = [None, None, *sorted(set(FAULTS) - {"read timeout"})]
# The order in which the sandbox lets one call's faults act: the first one met wins.
FAULT_PRECEDENCE = ["status", "timeout", "drop_before", "serialization", "database_down", "body"]
FAULT_PRECEDENCE += ["trickle", "drop_after"]
# Events that start a row's count of attempts afresh (all but the two that charge one).
RESETS = [
    v
    for k, v in vars(Event).items()
    if k.isupper() and k not in ("ATTEMPT_FAILED", "DEAD_LETTERED")
]


def _what_it_costs(met: dict) -> str:
    """What a fault met by a row's own call may cost that row, from the sandbox's ledger:
    `transient` (an attempt), `validation` (dead-lettered: Odoo's verdict on the row) or
    `outage` (nothing: an HTML page or Odoo's own database down is the tenant's)."""
    fault = min(met["faults"], key=lambda f: FAULT_PRECEDENCE.index(f["kind"]))
    if fault["kind"] == "database_down":
        return "outage"
    if fault["kind"] == "body":
        if "html" not in fault.get("content_type", ""):
            return "validation"
        return "transient" if fault.get("status", 200) >= 500 else "outage"
    return "transient"


@dataclass
class Reg:
    """What the admin did to one register: the local truth the sync must never change."""

    pk: int
    tenant: int  # index into Model.tenants
    name: str
    active: bool
    prefix: str
    ever_pro: bool  # its tenant was Pro while it existed: it may be in Odoo


@dataclass
class OpenDrain:
    drain: Drain
    tenant: int
    phase: str = "opened"  # opened, ready, batch, claimed, called
    claim: object = None
    outcome: object = None
    lease_from: object = None  # when the drain last took or extended its lock


@dataclass
class Figures:
    examples: int = 0
    steps: int = 0
    failures: int = 0
    seeds: list = field(default_factory=list)
    seen: Counter = field(default_factory=Counter)  # what the examples reached: coverage
    started: float = 0.0
    first_failure: str = ""  # how soon the first failing example came


FIGURES = Figures()
TIMES = Counter()  # wall seconds spent in each rule


def _wall() -> float:
    """Seconds on a clock that freezegun leaves running (it stops time.monotonic too)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def counted(rule_function):
    """Count each rule's runs, so the figures show what the examples exercised."""

    @functools.wraps(rule_function)
    def run(self, **kwargs):
        FIGURES.seen[rule_function.__name__] += 1
        t0 = _wall()
        try:
            return rule_function(self, **kwargs)
        finally:
            TIMES[rule_function.__name__] += _wall() - t0

    return run


class Model(RuleBasedStateMachine):
    odoos: tuple = ()  # the two sandbox Odoos, set by the test

    def __init__(self):
        super().__init__()
        FIGURES.examples += 1
        for odoo in self.odoos:
            odoo.reset(version=odoo.version)
        PosConfig.objects.all().delete()  # cascades: events, attempts
        Tenant.objects.all().delete()
        # Each example runs on its own frozen clock, stopped by teardown: Hypothesis
        # sees the real one between examples (freezegun's `ignore` would hand it
        # to whatever a rule calls near Hypothesis's frames too).
        self.frozen = freeze_time(START)
        self.clock = self.frozen.start()
        # (id, active) of a pos.config in each Odoo that no register owns.
        self.foreign = [
            (odoo.create_pos_config(FOREIGN, active=active), active)
            for odoo, active in zip(self.odoos, (True, False), strict=True)
        ]
        self.tenants: list[int] = []
        self.regs: list[Reg] = []
        self.drains: list[OpenDrain] = []
        self.deleted: set[tuple[str, int]] = set()  # (odoo url, pos.config id) deleted there
        # Faults each register's own calls met, from the sandboxes' ledgers:
        # register pk -> [(the last RegisterEvent id before the call, what it may cost)].
        self.met: dict[int, list[tuple[int, str]]] = {}
        self.ledger_read = {odoo.url: 0 for odoo in self.odoos}
        self.renames = 0

    # --- helpers -------------------------------------------------------------------

    def tenant(self, ix: int) -> Tenant:
        return Tenant.objects.get(pk=self.tenants[ix % len(self.tenants)])

    def odoo_of(self, tenant: Tenant):
        return next(o for o in self.odoos if o.url == tenant.odoo_url)

    def reg(self, ix: int) -> tuple[Reg, PosConfig]:
        """Register ix, counting first those a drain has in flight (claimed, being sent)."""
        flying = [d.claim.register_id for d in self.drains if d.phase in ("claimed", "called")]
        candidates = [r for pk in flying for r in self.regs if r.pk == pk] + self.regs
        model = candidates[ix % len(candidates)]
        return model, PosConfig.objects.get(pk=model.pk)

    def clashes(self, tenant_ix: int, name: str, *, exclude: int | None = None) -> bool:
        return any(
            r.tenant == tenant_ix
            and r.active
            and r.name.lower() == name.lower()
            and r.pk != exclude
            for r in self.regs
        )

    def mark_pro_registers(self) -> None:
        plans = dict(Tenant.objects.filter(pk__in=self.tenants).values_list("pk", "plan"))
        for r in self.regs:
            r.ever_pro |= plans[self.tenants[r.tenant]] == Plan.PRO

    def runs_now(self, t: int, try_now: bool) -> bool:
        """Whether a drain of the tenant gets past open_drain's checks to its lock."""
        tenant = self.tenant(t)
        waiting = tenant.odoo_next_attempt_at and tenant.odoo_next_attempt_at > self.now()
        return tenant.is_sync_enabled and (try_now or not waiting)

    def now(self):
        from django.utils import timezone

        return timezone.now()

    # --- setup -----------------------------------------------------------------------

    @initialize(
        plans=st.tuples(st.booleans(), st.booleans()),
        homes=st.tuples(st.integers(0, 1), st.integers(0, 1)),
        names=st.tuples(*[st.lists(st.sampled_from(NAMES), max_size=3, unique_by=str.lower)] * 2),
    )
    def make_tenants(self, plans, homes, names):
        """Two tenants, each on Starter or Pro with a connection to one of the Odoos."""
        for pro, home in zip(plans, homes, strict=True):
            odoo = self.odoos[home]
            tenant = TenantFactory(
                plan=Plan.PRO if pro else Plan.STARTER,
                odoo_url=odoo.url,
                odoo_db=odoo.db,
                odoo_login=odoo.login,
                odoo_api_key=odoo.api_key,
            )
            self.tenants.append(tenant.pk)
        for t, tenant_names in enumerate(names):
            for name in tenant_names:
                self.add_register(t=t, name=name, prefix=PREFIXES[0])
            # Start in step with Odoo, so that updates (not only creates) race.
            drain_tenant(self.tenants[t])

    # --- registers, as the admin edits them ---------------------------------------------

    @precondition(lambda self: len(self.regs) < MAX_REGISTERS)
    @rule(t=st.integers(0, 1), name=st.sampled_from(NAMES), prefix=st.sampled_from(PREFIXES))
    @counted
    def add_register(self, t, name, prefix):
        tenant = self.tenant(t)
        if self.clashes(t, name):
            with pytest.raises(ValidationError):
                services.add_register(tenant, name=name, prefix=prefix, actor=ADMIN)
            return
        row = services.add_register(tenant, name=name, prefix=prefix, actor=ADMIN)
        self.regs.append(Reg(row.pk, t, name, True, prefix, tenant.plan == Plan.PRO))

    @precondition(lambda self: self.regs)
    @rule(r=st.integers(0, MAX_REGISTERS), name=st.sampled_from(NAMES))
    @counted
    def rename(self, r, name):
        model, row = self.reg(r)
        self._edit(model, row, name=name)

    @precondition(lambda self: self.regs)
    @rule(r=st.integers(0, MAX_REGISTERS), active=st.booleans())
    @counted
    def set_active(self, r, active):
        model, row = self.reg(r)
        self._edit(model, row, active=active)

    def _edit(self, model: Reg, row: PosConfig, *, name=None, active=None):
        new_name = model.name if name is None else name
        new_active = model.active if active is None else active
        changes = {"name": name} if name is not None else {"active": active}
        if new_active and self.clashes(model.tenant, new_name, exclude=model.pk):
            with pytest.raises(ValidationError):
                services.edit_register(row, expected_revision=row.revision, actor=ADMIN, **changes)
            return
        services.edit_register(row, expected_revision=row.revision, actor=ADMIN, **changes)
        model.name, model.active = new_name, new_active

    @precondition(lambda self: any(d.phase in ("claimed", "called") for d in self.drains))
    @rule(d=st.integers(0, MAX_OPEN_DRAINS), name=st.sampled_from(NAMES), active=st.booleans())
    @counted
    def edit_a_register_in_flight(self, d, name, active):
        """The admin edits a register whose row a drain has claimed or sent, not recorded."""
        flying = sorted(
            (d for d in self.drains if d.phase in ("claimed", "called")),
            key=lambda d: (
                d.claim.action != "update"
            ),  # writes first: creates have the divergence check
        )
        pk = flying[d % len(flying)].claim.register_id
        FIGURES.seen[f"edit in flight {flying[d % len(flying)].claim.action}"] += 1
        model = next(r for r in self.regs if r.pk == pk)
        self.renames += 1  # a name of its own: the edit always changes something
        self._edit(model, PosConfig.objects.get(pk=pk), name=f"{name} {self.renames}")
        self._edit(model, PosConfig.objects.get(pk=pk), active=active)

    @precondition(lambda self: self.regs)
    @rule(r=st.integers(0, MAX_REGISTERS), prefix=st.sampled_from(PREFIXES))
    @counted
    def change_prefix(self, r, prefix):
        model, row = self.reg(r)
        sync = (row.sync_state, row.next_attempt_at, row.sync_retries, row.claim_token)
        services.set_register_prefix(row, prefix=prefix, actor=ADMIN)
        model.prefix = prefix
        row.refresh_from_db()
        # Odoo has no prefix: the edit must not queue anything (property 9).
        assert (row.sync_state, row.next_attempt_at, row.sync_retries, row.claim_token) == sync

    @precondition(lambda self: self.regs)
    @rule(r=st.integers(0, MAX_REGISTERS), name=st.sampled_from(NAMES))
    @counted
    def edit_from_a_stale_form(self, r, name):
        _, row = self.reg(r)
        if row.revision == 0:
            return
        before = (row.name, row.is_active, row.revision)
        with pytest.raises(services.StaleEdit):
            services.edit_register(row, name=name, expected_revision=row.revision - 1, actor=ADMIN)
        row.refresh_from_db()
        assert (row.name, row.is_active, row.revision) == before

    @precondition(lambda self: self.regs)
    @rule(r=st.integers(0, MAX_REGISTERS), operator=st.booleans())
    @counted
    def retry_sync_now(self, r, operator):
        _, row = self.reg(r)
        services.retry_sync(row, operator=operator, actor=OPERATOR if operator else ADMIN)

    # --- tenants -----------------------------------------------------------------------

    @rule(t=st.integers(0, 1), plan=st.sampled_from(Plan.values))
    @counted
    def change_plan(self, t, plan):
        tenants.change_plan(self.tenant(t), plan=plan)
        self.mark_pro_registers()

    @rule(t=st.integers(0, 1), edit=st.sampled_from(["key", "right db", "wrong db", "move"]))
    @counted
    def edit_connection(self, t, edit):
        """The admin edits the connection: pastes the key Odoo takes now (after a rotation),
        sets the database (right or a wrong one), or moves the tenant to the other Odoo."""
        tenant = self.tenant(t)
        odoo = self.odoo_of(tenant)
        FIGURES.seen[f"connection {edit}"] += 1
        if edit == "key":
            tenants.update_odoo_connection(tenant, api_key=odoo.api_key)
        elif edit in ("right db", "wrong db"):
            db = odoo.db if edit == "right db" else "no-such-db"
            tenants.update_odoo_connection(tenant, db=db)
        else:
            other = next(o for o in self.odoos if o is not odoo)
            tenants.update_odoo_connection(
                tenant, url=other.url, db=other.db, login=other.login, api_key=other.api_key
            )

    # --- Odoo and its faults -----------------------------------------------------------

    @rule(
        o=st.integers(0, 1),
        fault=st.sampled_from([*sorted(FAULTS), "key revoked", "record deleted"]),
        method=st.sampled_from([LOAD, WRITE, None]),
        count=st.integers(1, 2),
        pick=st.integers(0, 20),
    )
    @counted
    def odoo_fault(self, o, fault, method, count, pick):
        """One of Odoo's faults, met by the next `count` calls of `method` (None: any call)."""
        odoo = self.odoos[o]
        FIGURES.seen[f"fault {fault}"] += 1
        if fault == "key revoked":
            odoo.rotate_key()  # the tenants on this Odoo get paused
        elif fault == "record deleted":
            # An Odoo admin deletes a pos.config that regsync made.
            ours = sorted(x["res_id"] for x in odoo.external_ids() if x["module"] == "regsync")
            if ours:
                config_id = ours[pick % len(ours)]
                assert odoo.delete_pos_config(config_id)
                self.deleted.add((odoo.url, config_id))
        else:
            for _ in range(count):
                FAULTS[fault](odoo, WRITE if fault == "validation" else method)

    # Not between taking a row and sending it: a drain sends no row whose claim
    # may run out before the call ends (claims_valid_until), which a jump there
    # would fake.
    @precondition(lambda self: not any(d.phase == "claimed" for d in self.drains))
    @rule(delta=st.sampled_from([30, 120, 400, 1000, 3700, 4 * 3600]))
    @counted
    def jump_clock(self, delta):
        self.clock.tick(timedelta(seconds=delta))

    # --- drains ------------------------------------------------------------------------

    @rule(t=st.integers(0, 1), try_now=st.booleans())
    @counted
    def drain_whole(self, t, try_now):
        """A whole drain, as drain_tenant runs it (its steps in order, nothing between them:
        stepped here so that each fault met is charged to the row whose call met it)."""
        busy = self.runs_now(t, try_now) and self.held(t)
        opened = open_drain(self.tenants[t], ignore_outage_backoff=try_now)
        if isinstance(opened, TenantResult):
            result = opened
        else:
            whole = OpenDrain(opened, t, lease_from=self.now())
            while not self._step(whole, label="drain"):
                pass
            result = opened.result
        FIGURES.seen[f"drain {result.status}"] += 1
        if busy:
            assert result.status == TenantStatus.BUSY, result

    @precondition(lambda self: len(self.drains) < MAX_OPEN_DRAINS)
    @rule(t=st.integers(0, 1), try_now=st.booleans(), until=st.sampled_from(UNTIL))
    @counted
    def open_a_drain(self, t, try_now, until):
        busy = self.runs_now(t, try_now) and self.held(t)
        opened = open_drain(self.tenants[t], ignore_outage_backoff=try_now)
        if isinstance(opened, TenantResult):
            if busy:
                assert opened.status == TenantStatus.BUSY, opened
            return
        assert not self.held(t), "a second drain of a tenant ran while the first held its lock"
        self.drains.append(OpenDrain(opened, t, lease_from=self.now()))
        self._advance(self.drains[-1], until)

    def held(self, t: int) -> bool:
        """A live drain of the tenant holds its lock (leases run SYNC_CLAIM_SECONDS)."""
        lease = timedelta(seconds=django_settings.SYNC_CLAIM_SECONDS)
        return any(d.tenant == t and self.now() - d.lease_from < lease for d in self.drains)

    @rule(d=st.integers(0, MAX_OPEN_DRAINS), until=st.sampled_from(UNTIL))
    @counted
    def step_a_drain(self, d, until):
        """Advance an open drain (one of tenant d's is opened if none is): one step, or
        up to its next call sent to Odoo but not recorded, or its next row claimed.

        Always applicable, so that Hypothesis picks it often: rules interleave
        between any two steps of a drain, above all between a call and its record."""
        if not self.drains:
            self.open_a_drain(t=d % 2, try_now=True, until="opened")
        if self.drains:
            self._advance(self.drains[d % len(self.drains)], until)

    def _advance(self, d: OpenDrain, until: str) -> None:
        for _ in range(50):
            if until == "opened" or self._step(d) or until in ("one step", d.phase):
                return

    @precondition(lambda self: self.drains)
    @rule(d=st.integers(0, MAX_OPEN_DRAINS))
    @counted
    def run_a_drain_to_its_end(self, d):
        opened = self.drains[d % len(self.drains)]
        while not self._step(opened):
            pass

    def _step(self, d: OpenDrain, label: str = "stepped drain") -> bool:
        """Advance a drain by one step as drain_tenant would; True once it is closed."""
        drain = d.drain
        if d.phase == "opened":
            d.phase = "ready" if drain.login() else "done"
        elif d.phase == "ready":
            d.lease_from = self.now()
            if drain.claim_batch():
                d.phase = "batch"
            else:
                drain.finish()
                d.phase = "done"
        elif d.phase == "batch":
            d.claim = drain.next_claim()
            if d.claim is None:
                drain.end_batch()
                d.phase = "ready"
            else:
                d.phase = "claimed"
        elif d.phase == "claimed":
            d.outcome = self._call(d)
            d.phase = "called"
        elif d.phase == "called":
            if drain.record(d.claim, d.outcome):
                d.phase = "batch"
            else:
                drain.end_batch()
                d.phase = "ready"
        if d.phase == "done":
            FIGURES.seen[f"{label} {drain.result.status}"] += 1
            drain.close()
            if d in self.drains:
                self.drains.remove(d)
            return True
        return False

    def _call(self, d: OpenDrain):
        """The row's call to Odoo; each fault it met is written down against the row."""
        odoo = next(o for o in self.odoos if o.url == d.drain.tenant.odoo_url)
        self._faults_met(odoo)  # met by other calls (a login): no row's
        before = RegisterEvent.objects.aggregate(last=Max("id"))["last"] or 0
        outcome = d.drain.call(d.claim)
        for met in self._faults_met(odoo):
            cost = _what_it_costs(met)
            self.met.setdefault(d.claim.register_id, []).append((before, cost))
            FIGURES.seen[f"row met {cost}"] += 1
        return outcome

    def _faults_met(self, odoo) -> list[dict]:
        met = odoo.faults_met(since=self.ledger_read[odoo.url])
        self.ledger_read[odoo.url] += len(met)
        return met

    # --- races: something lands between a row's call and its record ------------------------

    # Each of these rules makes due work on a tenant that can drain, opens a drain,
    # steps it to the chosen row's call (rows before it go through as a drain sends
    # them), lets something happen before the outcome is recorded, then records it.
    # Three rules share the body so that Hypothesis picks a race often.

    @rule(
        t=st.integers(0, 1),
        due=st.lists(st.sampled_from(["create", "update"]), min_size=1, max_size=3),
        which=st.integers(0, 2),
        name=st.sampled_from(NAMES),
        fault=st.sampled_from(RACE_FAULTS),
        meddle=st.sampled_from(MEDDLES),
        then=st.sampled_from(THEN),
    )
    @counted
    def race_a_row(self, t, due, which, name, fault, meddle, then):
        self._race(t, due, which, name, fault, meddle, then)

    @rule(
        t=st.integers(0, 1),
        name=st.sampled_from(NAMES),
        fault=st.sampled_from(RACE_FAULTS),
        meddle=st.sampled_from(CREATE_MEDDLES),
        then=st.sampled_from(THEN),
    )
    @counted
    def race_a_create(self, t, name, fault, meddle, then):
        """A create in flight: the divergence check and the connection's revision guard it."""
        self._race(t, ["create"], 0, name, fault, meddle, then)

    @rule(
        t=st.integers(0, 1),
        before=st.sampled_from([[], ["update"], ["create"]]),
        name=st.sampled_from(NAMES),
        fault=st.sampled_from(RACE_FAULTS),
        meddle=st.sampled_from(MEDDLES),
        then=st.sampled_from(THEN),
    )
    @counted
    def race_an_update(self, t, before, name, fault, meddle, then):
        """An update in flight, after another row may have gone through: the claim's token
        guards it, and a fault that is the tenant's must cost it nothing."""
        self._race(t, [*before, "update"], len(before), name, fault, meddle, then)

    def _race(self, t, due, which, name, fault, meddle, then):
        for d in [d for d in self.drains if d.tenant == t]:
            self.drains.remove(d)  # the task gave up: close() gives its rows back
            d.drain.close()
        self._make_drainable(t)
        made = [pk for kind in due if (pk := self._make_due(t, kind, name)) is not None]
        if not made:
            return
        target = made[min(which, len(made) - 1)]
        d = self._open_for_race(t)
        if d is None:
            return
        for _ in range(60):
            if d.phase == "claimed" and d.claim.register_id == target:
                break
            if self._step(d):
                FIGURES.seen["race missed"] += 1  # a row before it ended the drain
                return
        else:
            raise AssertionError(f"register {target} was due but never claimed")
        odoo = self.odoo_of(d.drain.tenant)
        if fault is not None:
            FAULTS[fault](odoo, None)
        self._step(d)  # the call
        FIGURES.seen[f"race {d.claim.action} {meddle}"] += 1
        self._meddle(d, meddle, name)
        if d.phase == "called":
            self._step(d)  # the record
        if then == "to its end":
            while d in self.drains and not self._step(d):
                pass
        elif then == "given up" and d in self.drains:
            self.drains.remove(d)
            d.drain.close()

    def _make_drainable(self, t: int) -> None:
        """What the admin and operator would do so that the tenant syncs: Pro, its Odoo's
        database and current key (which lifts a pause)."""
        tenant = self.tenant(t)
        if tenant.plan != Plan.PRO:
            tenants.change_plan(tenant, plan=Plan.PRO)
            self.mark_pro_registers()
            tenant = self.tenant(t)
        odoo = self.odoo_of(tenant)
        if tenant.odoo_paused_at or (tenant.odoo_db, tenant.odoo_api_key) != (
            odoo.db,
            odoo.api_key,
        ):
            tenants.update_odoo_connection(tenant, db=odoo.db, api_key=odoo.api_key)

    def _make_due(self, t: int, kind: str, name: str) -> int | None:
        """A register of the tenant due now: a new one (create), or one renamed (update)."""
        linked = [
            r
            for r in self.regs
            if r.tenant == t
            and PosConfig.objects.filter(pk=r.pk, odoo_pos_config_id__isnull=False).exists()
        ]
        self.renames += 1
        if kind == "create" or not linked:
            if len(self.regs) >= MAX_REGISTERS:
                kind = "update"
            else:
                fresh = name if not self.clashes(t, name) else f"{name} {self.renames}"
                self.add_register(t=t, name=fresh, prefix=PREFIXES[0])
                return self.regs[-1].pk
        if not linked:
            return None
        model = linked[self.renames % len(linked)]
        self._edit(model, PosConfig.objects.get(pk=model.pk), name=f"{name} {self.renames}")
        return model.pk

    def _open_for_race(self, t: int) -> OpenDrain | None:
        """A drain of the tenant, logged in (a fault waiting for a login is let go first)."""
        for attempt in range(2):
            opened = open_drain(self.tenants[t], ignore_outage_backoff=True)
            if isinstance(opened, TenantResult):  # a killed drain's lock has not run out
                FIGURES.seen[f"race {opened.status}"] += 1
                return None
            assert not self.held(t), "a second drain of a tenant ran while the first held its lock"
            d = OpenDrain(opened, t, lease_from=self.now())
            self.drains.append(d)
            if not self._step(d):
                return d
            if attempt == 0:
                self.odoo_of(self.tenant(t)).clear_faults()
                self._make_drainable(t)  # a login that met a revoked key paused it
        FIGURES.seen["race no login"] += 1
        return None

    def _meddle(self, d: OpenDrain, meddle: str, name: str) -> None:
        """What lands between the row's call and its record."""
        model = next(r for r in self.regs if r.pk == d.claim.register_id)
        row = PosConfig.objects.get(pk=model.pk)
        t = d.tenant
        if meddle == "rename":
            self.renames += 1
            self._edit(model, row, name=f"{name} {self.renames}")
        elif meddle == "(de)activate":
            self._edit(model, row, active=not model.active)
        elif meddle == "operator retry":
            services.retry_sync(row, operator=True, actor=OPERATOR)
        elif meddle == "starter":
            tenants.change_plan(self.tenant(t), plan=Plan.STARTER)
        elif meddle in ("key", "right db", "wrong db", "move"):
            self.edit_connection(t=t, edit=meddle)
        elif meddle == "key revoked":
            self.odoo_of(d.drain.tenant).rotate_key()
            self.drain_whole(t=1 - t, try_now=True)  # pauses the other tenant if it is there
        elif meddle == "second drain":
            self.drain_whole(t=t, try_now=True)  # busy: the lock is held
            self.drain_whole(t=1 - t, try_now=True)
        elif meddle == "lease runs out" and not any(x.phase == "claimed" for x in self.drains):
            # The worker stalls past its leases: another drain takes the tenant and the row.
            # (Not while another drain is between taking a row and sending it: see jump_clock.)
            self.clock.tick(timedelta(seconds=django_settings.SYNC_CLAIM_SECONDS + 1))
            self.drain_whole(t=t, try_now=True)
        elif meddle == "record deleted" and row.odoo_pos_config_id is not None:
            odoo = self.odoo_of(d.drain.tenant)
            if odoo.delete_pos_config(row.odoo_pos_config_id):
                self.deleted.add((odoo.url, row.odoo_pos_config_id))

    @precondition(lambda self: self.drains)
    @rule(d=st.integers(0, MAX_OPEN_DRAINS))
    @counted
    def give_up_a_drain(self, d):
        """The task stops at any step (soft time limit, an exception): close() gives rows back."""
        opened = self.drains.pop(d % len(self.drains))
        opened.drain.close()

    @precondition(lambda self: self.drains)
    @rule(d=st.integers(0, MAX_OPEN_DRAINS))
    @counted
    def kill_a_drain(self, d):
        """The worker is killed at any step: its lock and claims stay until their leases end."""
        opened = self.drains.pop(d % len(self.drains))
        opened.drain.client.close()

    # --- invariants, after every step -------------------------------------------------------

    @invariant()
    def everything_holds(self):
        FIGURES.steps += 1
        self.mark_pro_registers()
        rows = {r.pk: r for r in PosConfig.objects.select_related("tenant")}
        odoo_state = {o.url: o.state() for o in self.odoos}
        self._local_truth_kept(rows)
        self._no_synced_row_without_an_id(rows)
        self._ids_point_at_their_own_record(rows, odoo_state)
        self._synced_rows_match_odoo(rows, odoo_state)
        self._starter_registers_never_in_odoo(odoo_state)
        self._foreign_records_untouched(odoo_state)
        self._attempts_charged_only_for_row_faults(rows)

    def _local_truth_kept(self, rows):
        """No edit lost, none invented: the sync never changes what the admin set."""
        assert sorted(rows) == sorted(r.pk for r in self.regs)
        for r in self.regs:
            row = rows[r.pk]
            assert (row.name, row.is_active, row.sequence_prefix) == (r.name, r.active, r.prefix)

    def _no_synced_row_without_an_id(self, rows):
        for row in rows.values():
            if row.tenant.is_sync_enabled and row.sync_state == SyncState.SYNCED:
                assert row.odoo_pos_config_id is not None, f"{row} synced without an Odoo id"

    def _ids_point_at_their_own_record(self, rows, odoo_state):
        """One register per pos.config, and an id only ever from the Odoo the tenant points at."""
        linked = {}
        for row in rows.values():
            if row.odoo_pos_config_id is None:
                continue
            tenant = row.tenant
            key = (tenant.odoo_url, tenant.odoo_db, row.odoo_pos_config_id)
            assert key not in linked, f"registers {linked.get(key)} and {row.pk} share {key}"
            linked[key] = row.pk
            state = odoo_state[tenant.odoo_url]
            assert tenant.odoo_db == state["db"], f"{row} keeps an id under a database it left"
            if (tenant.odoo_url, row.odoo_pos_config_id) in self.deleted:
                continue
            owner = [
                x["name"]
                for x in state["external_ids"]
                if x["module"] == "regsync" and x["res_id"] == row.odoo_pos_config_id
            ]
            assert owner == [f"register_{row.uuid.hex}"], (
                f"{row} links pos.config {row.odoo_pos_config_id}, which is {owner or 'nobody'}'s"
            )

    def _synced_rows_match_odoo(self, rows, odoo_state):
        """A row marked synced holds what its pos.config holds: no edit lost on the way."""
        for row in rows.values():
            key = (row.tenant.odoo_url, row.odoo_pos_config_id)
            if row.sync_state != SyncState.SYNCED or row.odoo_pos_config_id is None:
                continue
            if key in self.deleted:
                continue
            configs = {c["id"]: c for c in odoo_state[row.tenant.odoo_url]["pos_configs"]}
            odoo = configs[row.odoo_pos_config_id]
            assert (odoo["name"], odoo["active"]) == (row.name, row.is_active), (
                f"{row} is synced as {row.name!r} active={row.is_active}, Odoo has {odoo}"
            )

    def _starter_registers_never_in_odoo(self, odoo_state):
        never = {f"register_{u.hex}" for u in self._uuids(lambda r: not r.ever_pro)}
        for url, state in odoo_state.items():
            leaked = never & {x["name"] for x in state["external_ids"]}
            assert not leaked, f"registers of a tenant that never was Pro are in {url}: {leaked}"

    def _uuids(self, which):
        pks = [r.pk for r in self.regs if which(r)]
        return PosConfig.objects.filter(pk__in=pks).values_list("uuid", flat=True)

    def _foreign_records_untouched(self, odoo_state):
        """Nothing regsync does not own is written, and nothing is made without its external id."""
        for odoo, (foreign_id, active) in zip(self.odoos, self.foreign, strict=True):
            state = odoo_state[odoo.url]
            configs = {c["id"]: c for c in state["pos_configs"]}
            foreign = configs[foreign_id]
            assert (foreign["name"], foreign["active"]) == (FOREIGN, active), foreign
            owned = {x["res_id"] for x in state["external_ids"] if x["module"] == "regsync"}
            assert foreign_id not in owned
            assert set(configs) - owned == {foreign_id}, (
                "a pos.config without regsync's external id"
            )

    def _attempts_charged_only_for_row_faults(self, rows):
        """A tenant's outage costs no row an attempt: each attempt a row was charged since
        its count last started afresh needs a fault that the row's own call met since then
        (the sandboxes' ledgers say which call met which fault), and one that may be the
        row's: an HTML page or Odoo's own database down never is. A validation dead letter
        needs a validation fault met by the row's own call."""
        fresh_since = dict(
            RegisterEvent.objects.filter(action__in=RESETS)
            .values("register")
            .annotate(last=Max("id"))
            .values_list("register", "last")
        )
        for row in rows.values():
            since = fresh_since.get(row.pk, 0)
            met = Counter(cost for before, cost in self.met.get(row.pk, []) if before >= since)
            kind = row.last_sync_error_kind
            if kind in (ErrorKind.TRANSIENT, ErrorKind.EXHAUSTED):
                assert row.sync_retries <= met["transient"], (
                    f"{row} was charged {row.sync_retries} attempt(s) ({kind}: "
                    f"{row.last_sync_error}) for faults its own calls met: {dict(met)}"
                )
            elif kind == ErrorKind.VALIDATION:
                assert met["validation"] and row.sync_retries - 1 <= met["transient"], (
                    f"{row} dead-lettered ({row.last_sync_error}) for faults its calls met: "
                    f"{dict(met)}"
                )

    # --- quiescence -------------------------------------------------------------------

    def teardown(self):
        stopped = sys.exc_info()[0] is not None  # a failure, or Hypothesis ending the example
        failed = isinstance(sys.exc_info()[1], Exception)
        try:
            if not stopped:
                self._settle_and_check()
        except Exception:
            failed = True
            raise
        finally:
            if failed and not FIGURES.first_failure:
                FIGURES.first_failure = (
                    f"first failure in example {FIGURES.examples} (step {FIGURES.steps} "
                    f"in all), {_wall() - FIGURES.started:.0f} s in"
                )
                print(f"model: {FIGURES.first_failure}")
            FIGURES.seen.update(
                f"attempt {o}" for o in SyncAttempt.objects.values_list("outcome", flat=True)
            )
            for d in self.drains:
                d.drain.close()
            self.drains = []
            self.frozen.stop()

    def _settle_and_check(self):
        """Faults stop, the operator does what the admin would, drains run until nothing is due."""
        for d in self.drains:
            d.drain.close()
        self.drains = []
        for odoo in self.odoos:
            odoo.clear_faults()
        self.clock.tick(timedelta(seconds=django_settings.SYNC_CLAIM_SECONDS + 60))
        for tenant in Tenant.objects.filter(pk__in=self.tenants, plan=Plan.PRO):
            odoo = self.odoo_of(tenant)
            if tenant.odoo_paused_at or (tenant.odoo_db, tenant.odoo_api_key) != (
                odoo.db,
                odoo.api_key,
            ):
                tenants.update_odoo_connection(tenant, db=odoo.db, api_key=odoo.api_key)
        self._drain_until_quiet()
        # A register whose pos.config was deleted in Odoo learns it at its next write.
        for r in self.regs:
            row = PosConfig.objects.select_related("tenant").get(pk=r.pk)
            gone = (row.tenant.odoo_url, row.odoo_pos_config_id) in self.deleted
            if gone and row.tenant.is_sync_enabled and row.sync_state == SyncState.SYNCED:
                self.renames += 1
                self._edit(r, row, name=f"Renamed {self.renames}")
        self._drain_until_quiet()
        # The operator retries what the rows' own faults dead-lettered (a retried
        # update may find its record deleted and dead-letter once more).
        for _ in range(3):
            self._dead_letters_are_the_rows_own()
            dead = PosConfig.objects.filter(
                sync_state=SyncState.SYNC_ERROR,
                tenant__in=Tenant.objects.sync_enabled().filter(pk__in=self.tenants),
            )
            for row in dead:
                services.retry_sync(row, operator=True, actor=OPERATOR)
            self._drain_until_quiet()
        self._in_step_with_odoo()

    def _drain_until_quiet(self):
        for _ in range(8):
            due = PosConfig.objects.filter(
                tenant__in=Tenant.objects.sync_enabled().filter(pk__in=self.tenants),
                sync_state__in=[SyncState.PENDING_CREATE, SyncState.PENDING_UPDATE],
            )
            if not due.exists():
                return
            for tenant_id in self.tenants:
                result = drain_tenant(tenant_id, ignore_outage_backoff=True)
                assert result.status in (TenantStatus.OK, TenantStatus.DISABLED), result
            self.clock.tick(timedelta(hours=1, minutes=1))
        raise AssertionError(
            f"drains did not reach quiescence: {list(due.values('pk', 'sync_state'))}"
        )

    def _dead_letters_are_the_rows_own(self):
        """Nothing dead-lettered but for the row's own faults: Odoo's verdict on it, its
        record deleted, or every attempt failing (the invariant counts those per row)."""
        for row in PosConfig.objects.filter(sync_state=SyncState.SYNC_ERROR).select_related(
            "tenant"
        ):
            kind = row.last_sync_error_kind
            if kind == ErrorKind.MISSING:
                assert (row.tenant.odoo_url, row.odoo_pos_config_id) in self.deleted, row
            else:
                assert kind in (ErrorKind.VALIDATION, ErrorKind.EXHAUSTED), (
                    f"{row} dead-lettered ({kind}): {row.last_sync_error}"
                )
                if kind == ErrorKind.EXHAUSTED:
                    assert row.sync_retries >= django_settings.SYNC_MAX_ATTEMPTS, row

    def _in_step_with_odoo(self):
        for tenant in Tenant.objects.filter(pk__in=self.tenants):
            if not tenant.is_sync_enabled:
                continue
            state = self.odoo_of(tenant).state()
            configs = {c["id"]: c for c in state["pos_configs"]}
            for row in PosConfig.objects.filter(tenant=tenant):
                assert row.sync_state == SyncState.SYNCED, (row, row.last_sync_error)
                mine = [
                    x["res_id"]
                    for x in state["external_ids"]
                    if x["module"] == "regsync" and x["name"] == f"register_{row.uuid.hex}"
                ]
                assert mine == [row.odoo_pos_config_id], (row, mine)
                odoo = configs[row.odoo_pos_config_id]
                assert (odoo["name"], odoo["active"]) == (row.name, row.is_active), (row, odoo)


def _run(machine_seed: int, max_examples: int) -> None:
    def factory():
        return Model()

    seed(machine_seed)(factory)
    FIGURES.seeds.append(machine_seed)
    print(
        f"model: seed {machine_seed} ({max_examples} examples); replay: MODEL_SEED={machine_seed}"
    )
    try:
        run_state_machine_as_test(
            factory, settings=hsettings(hsettings.get_profile(PROFILE), max_examples=max_examples)
        )
    except Exception:
        FIGURES.failures += 1
        raise


@pytest.mark.timeout(FUZZ_MINUTES * 60 + 1200 if PROFILE == "fuzz" else 900)
def test_model(settings, odoo_sandbox_factory):
    settings.ODOO_CONNECT_TIMEOUT, settings.ODOO_READ_TIMEOUT = 0.5, 1.0
    # The lock's lease runs on the model's clock, so a killed drain's lock ends with a jump.
    settings.SYNC_LOCK_BACKEND = "db"
    # Small batches: plan, pause and connection changes land between batches of one drain.
    settings.SYNC_BATCH_SIZE = 2
    Model.odoos = (odoo_sandbox_factory("17.0"), odoo_sandbox_factory("18.0"))
    profile = hsettings(
        hsettings.get_profile(PROFILE),
        max_examples=int(
            os.environ.get("MODEL_EXAMPLES", hsettings.get_profile(PROFILE).max_examples)
        ),
    )
    started = FIGURES.started = _wall()
    try:
        if os.environ.get("MODEL_SEED"):
            _run(int(os.environ["MODEL_SEED"]), profile.max_examples)
        elif PROFILE == "fuzz":
            _fuzz(profile, started)
        else:
            _run(FIXED_SEED, profile.max_examples)
            _run(random.SystemRandom().randrange(2**32), max(profile.max_examples // 3, 1))
    finally:
        print(
            f"model: {FIGURES.examples} examples, {FIGURES.steps} steps, "
            f"{FIGURES.failures} failures, {_wall() - started:.0f} s, "
            f"seeds {FIGURES.seeds}"
        )
        print(
            "model: seconds per rule (a race's own edits and drains count twice): "
            + ", ".join(f"{k}: {n:.1f}" for k, n in TIMES.most_common(8))
        )
        print("model: reached " + ", ".join(f"{k}: {n}" for k, n in sorted(FIGURES.seen.items())))


def _fuzz(profile, started: float) -> None:
    """Random seeds until MODEL_FUZZ_MINUTES are up; every failure is printed with its seed."""
    failed = []
    while _wall() - started < FUZZ_MINUTES * 60:
        machine_seed = random.SystemRandom().randrange(2**32)
        try:
            _run(machine_seed, profile.max_examples)
        except Exception as exc:  # noqa: BLE001 - counted and reported, the loop goes on
            failed.append(machine_seed)
            print(f"model: FAILED seed {machine_seed}: {type(exc).__name__}: {exc}")
    assert not failed, f"the model failed for seeds {failed} (replay: MODEL_SEED=<seed>)"
