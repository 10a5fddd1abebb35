"""The sandbox's whole mutable world: records, credentials, counters and injected faults."""

from __future__ import annotations

import random
import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from .costs import profile

DEFAULT_DB = "regsync"
DEFAULT_LOGIN = "admin"
DEFAULT_API_KEY = "sandbox-api-key-0123456789abcdef"
DEFAULT_VERSION = "17.0"
ADMIN_UID = 2
LOGIN_COOLDOWN_AFTER = 5  # base.login_cooldown_after
LOGIN_COOLDOWN_SECONDS = 60.0  # base.login_cooldown_duration

# The groups of the sandbox's user. By default it is the database's admin
# (uid 2), who has them all; `Sandbox.set_groups(INTEGRATION_USER_GROUPS)` makes
# it the integration user docs/odoo.md asks for: Point of Sale / Administrator
# without Settings (base.group_system) or Access Rights (base.group_erp_manager).
POS_MANAGER = "point_of_sale.group_pos_manager"
ACCESS_RIGHTS = "base.group_erp_manager"
SETTINGS = "base.group_system"
INTEGRATION_USER_GROUPS = frozenset(
    {"base.group_user", "point_of_sale.group_pos_user", POS_MANAGER}
)
ADMIN_GROUPS = INTEGRATION_USER_GROUPS | {ACCESS_RIGHTS, SETTINGS}

# The database's first company (base.main_company), the one company of a
# database nobody made more of: named as 17.0-19.0's demo data name it.
MAIN_COMPANY_ID = 1
MAIN_COMPANY_NAME = "YourCompany"

FAULT_KINDS = (
    "status",
    "timeout",
    "drop_before",
    "serialization",
    "database_down",
    "body",
    "trickle",
    "drop_after",
    "park",
)
PARK_POINTS = ("before", "after")  # held before applying the call, or after it, before the reply


def parse_version(version: str) -> tuple[int, str, list]:
    """`(major, server_version, server_version_info)` for '17.0' or 'saas~18.2'."""
    match = re.match(r"^(saas~)?(\d+)(?:\.(\d+))?$", version.strip())
    if not match:
        raise ValueError(f"unsupported version {version!r}: use e.g. 17.0, 18.0, 19.0, saas~18.2")
    saas, major, minor = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if saas:
        return major, f"saas~{major}.{minor}+e", [f"saas~{major}", minor, 0, "final", 0, "e"]
    return major, f"{major}.{minor}", [major, minor, 0, "final", 0, ""]


def fault_label(spec: dict) -> str:
    """`status 502`, `timeout apply`, `drop_after`: a fault spec as a short name."""
    words = [spec["kind"]]
    words += [
        str(v) for k, v in sorted(spec.items()) if k != "kind" and k != "apply" and k != "seconds"
    ]
    if spec.get("apply"):
        words.append("apply")
    return " ".join(words)


def _cost_settings(costs: str, scale: float, major: int) -> tuple:
    """`(name, Costs or None, scale)`, or ValueError for an unknown profile or a negative scale."""
    scale = float(scale)
    if scale < 0:
        raise ValueError(f"cost_scale must not be negative, got {scale}")
    return costs, profile(costs, major), scale


@dataclass
class ParkedCall:
    """A call held at a point until the test releases it (or its time runs out)."""

    id: int
    key: str
    when: str
    since: float
    event: threading.Event = field(default_factory=threading.Event)
    decision: str = "drop"

    def as_dict(self) -> dict:
        applied = self.when == "after"
        held = round(time.monotonic() - self.since, 3)
        return {
            "id": self.id,
            "key": self.key,
            "when": self.when,
            "applied": applied,
            "held_s": held,
        }


@dataclass
class FaultRule:
    kind: str
    count: int
    method: str | None = None
    params: dict = field(default_factory=dict)

    def matches(self, key: str) -> bool:
        if self.method is None:
            return True
        m = self.method
        return key == m or key.endswith("." + m) or key.startswith(m + ".")


# What the ledger of faults met keeps of a rule: never a body (it may be huge).
_DESCRIBED_PARAMS = ("status", "content_type", "reason", "apply", "when")


def _described(rule: FaultRule) -> dict:
    return {"kind": rule.kind} | {
        k: rule.params[k] for k in _DESCRIBED_PARAMS if rule.params.get(k) is not None
    }


class SandboxState:
    def __init__(self, **options):
        self.lock = threading.RLock()
        self._wake = threading.Event()
        self.generation = 0
        # A gauge of sockets open now, so a reset does not zero it.
        self.open_rpc_connections = 0
        self.reset(**options)

    # --- lifecycle -----------------------------------------------------------
    def reset(
        self,
        *,
        version: str = DEFAULT_VERSION,
        db: str = DEFAULT_DB,
        login: str = DEFAULT_LOGIN,
        api_key: str = DEFAULT_API_KEY,
        keep_alive: bool = True,
        seed_demo: bool = False,
        costs: str = "none",
        cost_scale: float = 1.0,
    ) -> None:
        major, server_version, info = parse_version(version)
        cost_settings = _cost_settings(costs, cost_scale, major)  # refused before any reset
        with self.lock:
            # Wake handlers still sleeping on an injected delay: they see the
            # generation changed and drop their call instead of applying it.
            self._wake.set()
            self._wake = threading.Event()
            for call in getattr(self, "parked", {}).values():
                call.decision = "drop"
                call.event.set()
            self.parked: dict[int, ParkedCall] = {}
            self.park_seq = 0
            self.generation += 1
            self.version = version
            self.major = major
            self.server_version = server_version
            self.server_version_info = info
            self.db = db
            self.login = login
            self.api_key = api_key
            self.keep_alive = keep_alive
            self.costs_name, self.costs, self.cost_scale = cost_settings
            # What a real Odoo's call costs is waited out; the seconds so charged.
            self.cost_seconds = 0.0
            # The (uid, key) pairs whose check succeeded: res.users `check` (17.0, 18.0) and
            # `_check_uid_passwd` (19.0) are ormcached, so only the first call pays the KDF.
            self.checked_keys: set[tuple] = set()
            self.groups: set[str] = set(ADMIN_GROUPS)
            self.tables: dict[str, dict[int, dict]] = {
                "pos.config": {},
                "pos.session": {},
                "ir.model.data": {},
                "res.users": {
                    ADMIN_UID: {
                        "id": ADMIN_UID,
                        "login": login,
                        "name": "Mitchell Admin",
                        "active": True,
                        "company_id": MAIN_COMPANY_ID,
                        "company_ids": (MAIN_COMPANY_ID,),
                    }
                },
                # `accounting`: the company has a chart of accounts, so its POS journal
                # and payment methods exist (they are what a pos.config create takes
                # from the env's company as defaults: docs/odoo.md).
                "res.company": {
                    MAIN_COMPANY_ID: {
                        "id": MAIN_COMPANY_ID,
                        "name": MAIN_COMPANY_NAME,
                        "active": True,
                        "accounting": True,
                    }
                },
            }
            # Every ir.model.data id ever given to (module, name), so that finding
            # an external id costs O(1), not a scan of the table; a hit is
            # checked against the table (a rolled-back or deleted row is no hit).
            self.xmlid_ids: dict[tuple[str, str], list[int]] = {}
            self.sequences: Counter = Counter({"res.company": MAIN_COMPANY_ID})
            # Database backups (`backup`), as Odoo's database manager takes them.
            self.backups: list[tuple] = []
            self.login_failures: dict[str, tuple[int, float]] = {}
            self.faults: list[FaultRule] = []
            # A share of all calls failing at random (the soak's "1 % of calls"):
            # each call draws once; a hit takes one spec, picked uniformly.
            self.random_fault_rate = 0.0
            self.random_fault_specs: list[dict] = []
            self.random_fault_draw = random.Random()
            self.random_faults_injected: Counter = Counter()
            self.latency: list[tuple[float, str | None]] = []
            self.calls: Counter = Counter()
            self.requests = 0
            self.connections = 0
            self.rpc_connections = 0
            self.deprecation_warnings = 0
            # Every pos.config create or write an Odoo call applied, in order:
            # (record id, "create" | "write" | "load", name, active).
            self.mutations: list[tuple[int, str, str, bool]] = []
            # When each of them was applied (time.time(), this machine's clock).
            self.mutation_times: list[float] = []
            # One entry per drain in Odoo (the calls carrying one X-Request-ID,
            # the drain's correlation id) or, for calls without one, per TCP
            # connection: [first request read, last reply about to be sent,
            # calls]. Both ends are taken on the server, so an overlap proves
            # two clients were inside a session at once.
            self.sessions: list[list] = []
            self.session_index: dict[tuple, list] = {}
            # Which call met which injected fault, in order: one entry per call that
            # consumed at least one rule (see `take_faults`).
            self.faults_met: list[dict] = []
            if seed_demo:
                self.seed_demo()

    def set_costs(self, costs: str, scale: float = 1.0) -> None:
        """Charge each call what it costs a real Odoo ("real"), or nothing ("none")."""
        with self.lock:
            self.costs_name, self.costs, self.cost_scale = _cost_settings(costs, scale, self.major)

    def session_for(self, key: tuple, received: float) -> list:
        """The session a call belongs to (made at its first call); its calls counted."""
        session = self.session_index.get(key)
        if session is None:
            session = self.session_index[key] = [received, received, 0]
            self.sessions.append(session)
        session[2] += 1
        return session

    def seed_demo(self) -> None:
        with self.lock:
            for name in ("Shop", "Bar"):
                self.create_pos_config(name)

    @property
    def pos_manager(self) -> bool:
        return POS_MANAGER in self.groups

    def has_group(self, group: str) -> bool:
        return group in self.groups

    @property
    def wake_event(self) -> threading.Event:
        return self._wake

    def snapshot(self):
        """A savepoint, taken by every load(): O(tables' size) pointer copies, never a deep copy.

        A row's dict is never changed in place (every write puts a new dict in
        its table), so copying each table's index keeps the rows as they were.
        A deep copy here made each call cost O(records) and the sandbox slow
        down by itself as its tables grew (issue 14's benchmarks).
        """
        return self._tables_copy(self.tables), self.sequences.copy(), len(self.mutations)

    def restore(self, snapshot) -> None:
        self.tables, self.sequences = self._tables_copy(snapshot[0]), snapshot[1].copy()
        del self.mutations[snapshot[2] :]
        del self.mutation_times[snapshot[2] :]

    def backup(self) -> int:
        """A database backup, as Odoo's database manager takes it (`pg_dump`): its number."""
        with self.lock:
            self.backups.append((self._tables_copy(self.tables), self.sequences.copy()))
            return len(self.backups) - 1

    def restore_backup(self, number: int) -> None:
        """Restore a backup over the database: its records and its sequences.

        The dump sets each sequence back (`setval`), so ids handed out since
        the backup are handed out again, to whatever is created next. Calls,
        faults and the mutation log are the test's record, not the database's.
        """
        with self.lock:
            tables, sequences = self.backups[number]
            self.tables, self.sequences = self._tables_copy(tables), sequences.copy()

    @staticmethod
    def _tables_copy(tables: dict[str, dict[int, dict]]) -> dict[str, dict[int, dict]]:
        return {name: dict(rows) for name, rows in tables.items()}

    def record_mutation(self, record_id: int, via: str, name: str, active: bool) -> None:
        self.mutations.append((record_id, via, name, active))
        self.mutation_times.append(time.time())

    # --- records ------------------------------------------------------------
    def next_id(self, table: str) -> int:
        self.sequences[table] += 1
        return self.sequences[table]

    def create_pos_config(
        self,
        name: str,
        active: bool = True,
        xmlid: str | None = None,
        company_id: int | None = None,
    ) -> int:
        """A config made in Odoo's back office: in `company_id`, else the user's default company."""
        from .models import now_str

        with self.lock:
            company = self.user_company_id() if company_id is None else int(company_id)
            self._check_company_exists(company)
            record_id = self.next_id("pos.config")
            stamp = now_str()
            self.tables["pos.config"][record_id] = {
                "id": record_id,
                "name": name,
                "active": active,
                "company_id": company,
                "create_date": stamp,
                "write_date": stamp,
            }
            if xmlid:
                module, _, xname = xmlid.rpartition(".")
                self.set_xmlid(module or "__import__", xname, "pos.config", record_id)
            return record_id

    def edit_pos_config(self, record_id: int, **values) -> bool:
        """Change a config as someone in Odoo's back office would (name, active, company_id)."""
        from .models import now_str

        with self.lock:
            row = self.tables["pos.config"].get(record_id)
            if row is None:
                return False
            changed = {k: v for k, v in values.items() if k in ("name", "active", "company_id")}
            if "company_id" in changed:
                changed["company_id"] = int(changed["company_id"])
                self._check_company_exists(changed["company_id"])
            self.tables["pos.config"][record_id] = {**row, **changed, "write_date": now_str()}
            return True

    def delete_pos_config(self, record_id: int) -> bool:
        """Delete like Odoo's unlink (its external ids go too), sessions included."""
        with self.lock:
            found = self.tables["pos.config"].pop(record_id, None) is not None
            sessions = self.tables["pos.session"]
            for sid in [s for s, row in sessions.items() if row["config_id"] == record_id]:
                del sessions[sid]
            imd = self.tables["ir.model.data"]
            for xid in [
                x
                for x, row in imd.items()
                if row["model"] == "pos.config" and row["res_id"] == record_id
            ]:
                del imd[xid]
            return found

    # --- companies --------------------------------------------------------
    def _check_company_exists(self, company_id: int) -> None:
        if company_id not in self.tables["res.company"]:
            raise ValueError(f"no res.company with id {company_id}")

    def create_company(self, name: str, *, accounting: bool = False) -> int:
        """A company made in Settings / Companies. Odoo gives a new company no chart of
        accounts (`accounting=False`) until someone installs one."""
        with self.lock:
            if not str(name).strip():
                raise ValueError("a company needs a name")
            company_id = self.next_id("res.company")
            self.tables["res.company"][company_id] = {
                "id": company_id,
                "name": str(name),
                "active": True,
                "accounting": bool(accounting),
            }
            return company_id

    def set_company_active(self, company_id: int, active: bool) -> None:
        with self.lock:
            self._check_company_exists(company_id)
            row = self.tables["res.company"][company_id]
            self.tables["res.company"][company_id] = {**row, "active": bool(active)}

    def set_user_companies(self, company_ids, default: int | None = None) -> dict:
        """The user's allowed companies (`company_ids`) and default company (`company_id`).

        res.users' `_check_company` constraint: the default must be one of the
        allowed ones. Without `default`, the current one is kept if still allowed,
        else the first given.
        """
        with self.lock:
            ids = tuple(dict.fromkeys(int(c) for c in company_ids))
            if not ids:
                raise ValueError("a user needs at least one company")
            for company_id in ids:
                self._check_company_exists(company_id)
            user = self.tables["res.users"][ADMIN_UID]
            if default is None:
                default = user["company_id"] if user["company_id"] in ids else ids[0]
            if int(default) not in ids:
                raise ValueError(
                    f"Company {default} is not in the allowed companies for user "
                    f"{user['name']} ({', '.join(str(c) for c in ids)})."
                )
            self.tables["res.users"][ADMIN_UID] = {
                **user,
                "company_id": int(default),
                "company_ids": ids,
            }
            return {"company_id": int(default), "company_ids": list(ids)}

    def user_company_id(self, uid: int = ADMIN_UID) -> int:
        return self.tables["res.users"][uid]["company_id"]

    def user_company_ids(self, uid: int = ADMIN_UID) -> list[int]:
        """res.users `_get_company_ids`: the user's companies that are active
        (`search([('active', '=', True), ('user_ids', 'in', uid)])`), res.company's order."""
        companies = self.tables["res.company"]
        active = [c for c in self.tables["res.users"][uid]["company_ids"] if c in companies]
        active = [c for c in active if companies[c]["active"]]
        return sorted(active, key=lambda c: (companies[c]["name"], c))

    def find_xmlid(self, module: str, name: str) -> dict | None:
        imd = self.tables["ir.model.data"]
        for xid in reversed(self.xmlid_ids.get((module, name), ())):
            row = imd.get(xid)
            if row is not None and row["module"] == module and row["name"] == name:
                return row
        return None

    def set_xmlid(self, module: str, name: str, model: str, res_id: int) -> int:
        """Create or rebind `module.name` (ir.model.data._update_xmlids: ON CONFLICT DO UPDATE)."""
        row = self.find_xmlid(module, name)
        if row is None:
            xid = self.next_id("ir.model.data")
            self.xmlid_ids.setdefault((module, name), []).append(xid)
            self.tables["ir.model.data"][xid] = {
                "id": xid,
                "module": module,
                "name": name,
                "model": model,
                "res_id": res_id,
                "complete_name": f"{module}.{name}",
                "noupdate": False,
            }
            return xid
        self.tables["ir.model.data"][row["id"]] = {**row, "model": model, "res_id": res_id}
        return row["id"]

    def open_session_for(self, config_id: int) -> dict | None:
        for row in self.tables["pos.session"].values():
            if row["config_id"] == config_id and row["state"] != "closed":
                return row
        return None

    def config_had_session(self, config_id: int) -> bool:
        return any(r["config_id"] == config_id for r in self.tables["pos.session"].values())

    def open_session(self, config_id: int) -> int:
        from .models import MissingError, UserError

        with self.lock:
            if config_id not in self.tables["pos.config"]:
                raise MissingError(
                    "Record does not exist or has been deleted.\n"
                    f"(Record: pos.config({config_id},), User: {ADMIN_UID})"
                )
            if self.open_session_for(config_id):
                raise UserError("Another session is already opened for this point of sale.")
            sid = self.next_id("pos.session")
            self.tables["pos.session"][sid] = {
                "id": sid,
                "name": f"POS/{sid:05d}",
                "config_id": config_id,
                "state": "opening_control",
            }
            return sid

    def close_sessions(self, config_id: int) -> int:
        with self.lock:
            closed = 0
            sessions = self.tables["pos.session"]
            for sid, row in list(sessions.items()):
                if row["config_id"] == config_id and row["state"] != "closed":
                    sessions[sid] = {**row, "state": "closed"}
                    closed += 1
            return closed

    # --- credentials --------------------------------------------------------
    def rotate_key(self, new_key: str | None = None) -> str:
        with self.lock:
            self.api_key = new_key or secrets.token_hex(20)
            self.checked_keys.clear()
            return self.api_key

    def cooldown_active(self, source: str) -> bool:
        failures, last = self.login_failures.get(source, (0, 0.0))
        return failures >= LOGIN_COOLDOWN_AFTER and time.monotonic() - last < LOGIN_COOLDOWN_SECONDS

    def record_login(self, source: str, ok: bool) -> None:
        if ok:
            self.login_failures.pop(source, None)
            return
        failures, _ = self.login_failures.get(source, (0, 0.0))
        self.login_failures[source] = (failures + 1, time.monotonic())

    # --- faults -------------------------------------------------------------
    def add_fault(self, kind: str, count: int = 1, method: str | None = None, **params) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {FAULT_KINDS}")
        with self.lock:
            self.faults.append(FaultRule(kind, int(count), method, params))

    def take_faults(self, key: str, call: int = 0) -> dict[str, FaultRule]:
        """Consume, for one call, at most one matching rule of each kind.

        `call` (the call's number, `requests` when it was read) goes into the
        ledger of faults met, with the call's key and what each rule was.
        """
        taken: dict[str, FaultRule] = {}
        with self.lock:
            for rule in self.faults:
                if rule.kind not in taken and rule.count > 0 and rule.matches(key):
                    rule.count -= 1
                    taken[rule.kind] = rule
            self.faults = [r for r in self.faults if r.count > 0]
            if not taken and self.random_fault_rate:
                if self.random_fault_draw.random() < self.random_fault_rate:
                    spec = dict(self.random_fault_draw.choice(self.random_fault_specs))
                    self.random_faults_injected[fault_label(spec)] += 1
                    kind = spec.pop("kind")
                    taken[kind] = FaultRule(kind, 0, None, spec)
            if taken:
                self.faults_met.append(
                    {
                        "n": len(self.faults_met),
                        "call": call,
                        "key": key,
                        "faults": [_described(rule) for rule in taken.values()],
                    }
                )
        return taken

    def park(self, key: str, when: str, seconds: float) -> str:
        """Hold this call until released: "continue" or "drop" ("drop" when time runs out)."""
        with self.lock:
            self.park_seq += 1
            call = ParkedCall(self.park_seq, key, when, time.monotonic())
            self.parked[call.id] = call
        try:
            released = call.event.wait(seconds)
        finally:
            with self.lock:
                self.parked.pop(call.id, None)
        return call.decision if released else "drop"

    def release_parked(self, decision: str, call_id: int | None = None) -> int:
        if decision not in ("continue", "drop"):
            raise ValueError("decision must be 'continue' or 'drop'")
        with self.lock:
            calls = [c for c in self.parked.values() if call_id is None or c.id == call_id]
            for call in calls:
                call.decision = decision
                call.event.set()
                del self.parked[call.id]
        return len(calls)

    def max_concurrent_sessions(self) -> int:
        """The most client sessions that were inside an exchange at the same moment."""
        with self.lock:
            edges = [(s[0], 1) for s in self.sessions] + [(s[1], -1) for s in self.sessions]
        # An end and a start at the same instant do not overlap: ends sort first.
        current = peak = 0
        for _, step in sorted(edges):
            current += step
            peak = max(peak, current)
        return peak

    def set_random_faults(self, rate: float, specs: list[dict], seed: int | None = None) -> None:
        """Fail this share of calls (0 stops it), each with one of `specs` (kind + params)."""
        rate = float(rate)
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be between 0 and 1, got {rate}")
        for spec in specs:
            if spec.get("kind") not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {spec.get('kind')!r}; one of {FAULT_KINDS}")
        if rate and not specs:
            raise ValueError("a fault rate needs at least one fault spec")
        with self.lock:
            self.random_fault_rate = rate
            self.random_fault_specs = [dict(spec) for spec in specs]
            if seed is not None:
                self.random_fault_draw.seed(seed)

    def counters(self) -> dict:
        """The cheap part of the summary (no records): for sampling while under load."""
        with self.lock:
            return {
                "requests": self.requests,
                "calls": sum(self.calls.values()),
                "connections": self.connections,
                "open_rpc_connections": self.open_rpc_connections,
                "rpc_connections": self.rpc_connections,
                "pos_configs": len(self.tables["pos.config"]),
                "random_faults_injected": dict(self.random_faults_injected),
                "pending_faults": sum(r.count for r in self.faults),
                "cost_seconds": round(self.cost_seconds, 6),
            }

    def latency_for(self, key: str) -> float:
        with self.lock:
            return sum(s for s, m in self.latency if FaultRule("", 1, m).matches(key))

    # --- inspection ---------------------------------------------------------
    def summary(self) -> dict:
        with self.lock:
            configs = [
                {k: row[k] for k in ("id", "name", "active")}
                | {"open_session": bool(self.open_session_for(row["id"]))}
                for row in self.tables["pos.config"].values()
            ]
            user = self.tables["res.users"][ADMIN_UID]
            return {
                "version": self.version,
                "major": self.major,
                "db": self.db,
                "login": self.login,
                "api_key": self.api_key,
                "keep_alive": self.keep_alive,
                "costs": self.costs_name,
                "cost_scale": self.cost_scale,
                "pos_manager": self.pos_manager,
                "groups": sorted(self.groups),
                "pos_configs": configs,
                "companies": [dict(row) for row in self.tables["res.company"].values()],
                "pos_config_companies": {
                    str(row["id"]): row["company_id"] for row in self.tables["pos.config"].values()
                },
                "user_company_id": user["company_id"],
                "user_company_ids": list(user["company_ids"]),
                "external_ids": list(self.tables["ir.model.data"].values()),
                "sessions": list(self.tables["pos.session"].values()),
                "calls": dict(self.calls),
                "requests": self.requests,
                "connections": self.connections,
                "rpc_connections": self.rpc_connections,
                "deprecation_warnings": self.deprecation_warnings,
                "pending_faults": [
                    {
                        "kind": r.kind,
                        "count": r.count,
                        "method": r.method,
                        "status": r.params.get("status"),
                    }
                    for r in self.faults
                ],
                "parked": [c.as_dict() for c in self.parked.values()],
            }
