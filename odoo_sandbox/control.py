"""`Sandbox`: a handle on a running sandbox Odoo, driven over its HTTP control API.

Works the same whether the sandbox runs in this process (pytest fixture) or
in another one (`python -m odoo_sandbox`), e.g. for a Celery worker test.
"""

from __future__ import annotations

import json
import urllib.request

from .state import (
    ADMIN_GROUPS,
    DEFAULT_API_KEY,
    DEFAULT_DB,
    DEFAULT_LOGIN,
    DEFAULT_VERSION,
    INTEGRATION_USER_GROUPS,
)


class SandboxControlError(RuntimeError):
    pass


class Sandbox:
    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.db = DEFAULT_DB
        self.login = DEFAULT_LOGIN
        self.api_key = DEFAULT_API_KEY
        self.version = DEFAULT_VERSION

    def __repr__(self) -> str:
        return f"<Sandbox {self.url} version={self.version} db={self.db}>"

    @classmethod
    def attach(cls, url: str) -> Sandbox:
        """A handle on an already running sandbox, keeping its current settings."""
        handle = cls(url)
        handle._adopt(handle.state())
        return handle

    def _call(self, action: str, payload: dict | None = None, *, method: str = "POST"):
        data = json.dumps(payload or {}).encode() if method == "POST" else None
        request = urllib.request.Request(  # noqa: S310 - self.url is the sandbox's http URL
            f"{self.url}/__sandbox__/{action}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise SandboxControlError(f"sandbox {action} failed: {detail}") from None

    def _adopt(self, summary: dict) -> None:
        self.db = summary["db"]
        self.login = summary["login"]
        self.api_key = summary["api_key"]
        self.version = summary["version"]

    # --- lifecycle ---------------------------------------------------------
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
    ) -> Sandbox:
        """Empty the database, clear faults and counters, wake delayed calls.

        `costs="real"`: every call takes as long as on a real Odoo of that
        version (odoo_sandbox/costs.py), times `cost_scale`; "none": no delay.
        """
        summary = self._call(
            "reset",
            {
                "version": version,
                "db": db,
                "login": login,
                "api_key": api_key,
                "keep_alive": keep_alive,
                "seed_demo": seed_demo,
                "costs": costs,
                "cost_scale": cost_scale,
            },
        )
        self._adopt(summary)
        return self

    def client(self, **kwargs):
        """An `OdooClient` for this sandbox (keyword arguments go to the client)."""
        from odoo_client.client import OdooClient

        return OdooClient(self.url, self.db, self.login, self.api_key, **kwargs)

    # --- fault injection ---------------------------------------------------
    def add_latency(self, seconds: float, method: str | None = None) -> None:
        """Every matching call waits `seconds` first (0 clears all latency)."""
        self._call("latency", {"seconds": seconds, "method": method})

    def fail_next(self, status: int = 502, count: int = 1, method: str | None = None) -> None:
        """The next `count` calls get a proxy error page with this HTTP status."""
        self._call("fault", {"kind": "status", "count": count, "method": method, "status": status})

    def timeout_next(
        self, count: int = 1, seconds: float = 30.0, method: str | None = None, apply: bool = False
    ) -> None:
        """The next calls hang `seconds` (woken early by reset), then close unanswered."""
        self._call(
            "fault",
            {
                "kind": "timeout",
                "count": count,
                "method": method,
                "seconds": seconds,
                "apply": apply,
            },
        )

    def drop_next(self, when: str = "before", count: int = 1, method: str | None = None) -> None:
        """Close the connection unanswered, `before` or `after` applying the call."""
        if when not in ("before", "after"):
            raise ValueError("when must be 'before' or 'after'")
        self._call("fault", {"kind": f"drop_{when}", "count": count, "method": method})

    def serialization_failure_next(self, count: int = 1, method: str | None = None) -> None:
        """Fault 1 (JSON-2: 500) psycopg2.errors.SerializationFailure, call not applied."""
        self._call("fault", {"kind": "serialization", "count": count, "method": method})

    def database_down_next(
        self,
        reason: str = "refused",
        count: int = 1,
        method: str | None = None,
        apply: bool = False,
    ) -> None:
        """Odoo cannot reach its PostgreSQL: fault 1 (JSON-2: 500) as real Odoo words it.

        `reason`: `refused` (libpq 14+ "connection to server at ... failed"),
        `could_not_connect` (older libpq), `closed` ("server closed the connection
        unexpectedly"), `pool_full` (odoo's "The Connection Pool Is Full"),
        `connection_closed` (psycopg2.InterfaceError "connection already closed").
        The call is not applied, unless `apply` (Odoo lost its database after
        committing it, as when it signals registry changes on a new cursor).
        """
        self._call(
            "fault",
            {
                "kind": "database_down",
                "count": count,
                "method": method,
                "reason": reason,
                "apply": apply,
            },
        )

    def reply_body_next(
        self,
        body: str,
        *,
        status: int = 200,
        content_type: str = "text/xml; charset=utf-8",
        count: int = 1,
        method: str | None = None,
        apply: bool = False,
        repeat: int = 1,
        chunked: bool = False,
    ) -> None:
        """Answer the next calls with this raw body (hostile XML, huge or HTML replies).

        `repeat` sends the body that many times over; `chunked` sends it with no
        Content-Length, so only the reader's own count can bound it.
        """
        self._call(
            "fault",
            {
                "kind": "body",
                "count": count,
                "method": method,
                "body": body,
                "status": status,
                "content_type": content_type,
                "apply": apply,
                "repeat": repeat,
                "chunked": chunked,
            },
        )

    def trickle_next(
        self,
        interval: float = 0.5,
        count: int = 1,
        method: str | None = None,
        headers: bool = False,
    ) -> None:
        """Apply the next calls, then send each reply a byte every `interval` seconds.

        `headers=True` trickles the status line and headers too, so that a client
        bounding only the body read is held for as long as the server likes.
        """
        self._call(
            "fault",
            {
                "kind": "trickle",
                "count": count,
                "method": method,
                "interval": interval,
                "headers": headers,
            },
        )

    def park_next(
        self, when: str = "before", count: int = 1, method: str | None = None, seconds: float = 60.0
    ) -> None:
        """Hold the next matching calls `before` applying them or `after` (before the reply).

        A parked call waits until `release_parked` (or `seconds`, or a reset,
        which drop it) and shows in `parked()` meanwhile, so a test knows its
        client is exactly there: waiting on Odoo, the call applied or not.
        """
        if when not in ("before", "after"):
            raise ValueError("when must be 'before' or 'after'")
        self._call(
            "fault",
            {"kind": "park", "count": count, "method": method, "when": when, "seconds": seconds},
        )

    def parked(self) -> list[dict]:
        """Calls held now: id, key (`model.method`), when, applied, held_s."""
        return self._call("parked", method="GET")["parked"]

    def release_parked(self, decision: str = "continue", call_id: int | None = None) -> int:
        """Let parked calls go on ("continue": apply if not yet, then reply) or "drop" them.

        "drop" closes the connection unanswered; a call parked `before` is then
        never applied. Returns how many calls were released.
        """
        return self._call("release_parked", {"decision": decision, "id": call_id})["released"]

    def random_faults(self, rate: float, specs: list[dict], *, seed: int | None = None) -> None:
        """Fail a share of all Odoo calls from now on, each with one spec picked at random.

        A spec is a fault kind and its parameters, as the `*_next` methods take
        them: `{"kind": "status", "status": 502}`, `{"kind": "drop_after"}`. A
        call already meeting a queued fault draws nothing. `rate=0` stops it, as
        do `clear_faults` and `reset`; `counters()` says how many were injected.
        """
        self._call("random_faults", {"rate": rate, "specs": specs, "seed": seed})

    def clear_faults(self) -> None:
        self._call("clear_faults")

    def rotate_key(self, new_key: str | None = None) -> str:
        """Revoke the current API key: calls with the old one are rejected."""
        self.api_key = self._call("rotate_key", {"api_key": new_key})["api_key"]
        return self.api_key

    def set_pos_manager(self, allowed: bool) -> None:
        """False: the integration user loses Point of Sale / Administrator (AccessError)."""
        self._call("set_rights", {"pos_manager": allowed})

    def set_groups(self, groups) -> list[str]:
        """The user's groups, e.g. `INTEGRATION_USER_GROUPS` (Point of Sale / Administrator
        only: ir.model.data is refused) or `ADMIN_GROUPS` (the default after `reset`)."""
        return self._call("set_groups", {"groups": sorted(groups)})["groups"]

    def as_integration_user(self) -> None:
        """The user docs/odoo.md asks for: PoS Administrator, not Settings nor Access Rights."""
        self.set_groups(INTEGRATION_USER_GROUPS)

    def as_admin(self) -> None:
        self.set_groups(ADMIN_GROUPS)

    def groups(self) -> list[str]:
        return self.state()["groups"]

    def set_costs(self, costs: str, scale: float = 1.0) -> None:
        """ "real": each call takes what it takes a real Odoo (times `scale`); "none": no delay."""
        self._call("configure", {"costs": costs, "cost_scale": scale})

    def cost_seconds(self) -> float:
        """The seconds the sandbox has waited out as a real Odoo's costs since the reset."""
        return self.counters()["cost_seconds"]

    def set_keep_alive(self, keep_alive: bool) -> None:
        """False answers `Connection: close`, like Odoo's own server without a proxy."""
        self._call("configure", {"keep_alive": keep_alive})

    def clear_login_failures(self) -> None:
        """End the login cooldown (5 failures -> 60 s) without waiting."""
        self._call("clear_login_failures")

    # --- data behind our back ------------------------------------------------
    def create_pos_config(
        self,
        name: str,
        *,
        active: bool = True,
        xmlid: str | None = None,
        company_id: int | None = None,
    ) -> int:
        """Make a config in Odoo's back office: in `company_id`, else the user's default company."""
        payload = {"name": name, "active": active, "xmlid": xmlid, "company_id": company_id}
        return self._call("create_pos_config", payload)["id"]

    def move_pos_config(self, config_id: int, company_id: int) -> bool:
        """Move it to another company, as someone in Odoo's back office would."""
        return self._call("edit_pos_config", {"id": config_id, "company_id": company_id})["edited"]

    # --- companies (Settings / Companies, and the user's Allowed Companies) --
    def add_company(self, name: str, *, accounting: bool = False) -> int:
        """A new res.company; `accounting`: it has a chart of accounts (journals and
        payment methods), which a new company lacks until someone installs one.
        Company 1 ("YourCompany", with accounting) exists after every reset."""
        return self._call("create_company", {"name": name, "accounting": accounting})["id"]

    def set_company_active(self, company_id: int, active: bool) -> None:
        """Archive or unarchive a company: an archived one is no longer the user's to use."""
        self._call("set_company_active", {"id": company_id, "active": active})

    def set_user_companies(self, company_ids, *, default: int | None = None) -> dict:
        """The user's Allowed Companies and its default company (which must be one of them).

        Without `default` the current default stays if still allowed, else the
        first given. Returns `{"company_id", "company_ids"}`.
        """
        return self._call(
            "set_user_companies", {"company_ids": list(company_ids), "default": default}
        )

    def pos_config_company(self, config_id: int) -> int | None:
        """The company a pos.config is in (None: no such config)."""
        return self.state()["pos_config_companies"].get(str(config_id))

    def companies(self) -> list[dict]:
        """Every res.company: id, name, active, accounting."""
        return self.state()["companies"]

    def user_companies(self) -> tuple[int, list[int]]:
        """`(default company id, allowed company ids)` of the sandbox's user."""
        state = self.state()
        return state["user_company_id"], state["user_company_ids"]

    def rename_pos_config(self, config_id: int, name: str) -> bool:
        """Rename it in Odoo's back office, behind regsync's back."""
        return self._call("edit_pos_config", {"id": config_id, "name": name})["edited"]

    def set_pos_config_active(self, config_id: int, active: bool) -> bool:
        """Archive or unarchive it in Odoo's back office, behind regsync's back."""
        return self._call("edit_pos_config", {"id": config_id, "active": bool(active)})["edited"]

    def delete_pos_config(self, config_id: int) -> bool:
        """Delete it in Odoo as an admin would (its external id goes too)."""
        return self._call("delete_pos_config", {"id": config_id})["deleted"]

    def backup(self) -> int:
        """Back the database up, as Odoo's database manager does (`pg_dump`)."""
        return self._call("backup")["backup"]

    def restore_backup(self, backup: int) -> None:
        """Restore that backup: records and id sequences as they were, so ids come again."""
        self._call("restore_backup", {"backup": backup})

    def open_session(self, config_id: int) -> int:
        """A cashier opens a session (state opening_control counts as open)."""
        return self._call("open_session", {"config_id": config_id})["id"]

    def close_session(self, config_id: int) -> int:
        return self._call("close_session", {"config_id": config_id})["closed"]

    # --- inspection ----------------------------------------------------------
    def state(self) -> dict:
        return self._call("state", method="GET")

    def pos_configs(self) -> list[dict]:
        """Every pos.config, archived included: id, name, active, open_session."""
        return self.state()["pos_configs"]

    def pos_config(self, config_id: int) -> dict | None:
        return next((c for c in self.pos_configs() if c["id"] == config_id), None)

    def external_ids(self) -> list[dict]:
        return self.state()["external_ids"]

    def calls(self) -> dict[str, int]:
        """Requests received per `model.method` (`common.authenticate`, `web.version`...)."""
        return self.state()["calls"]

    def call_count(self, key: str) -> int:
        return self.calls().get(key, 0)

    def connections(self) -> int:
        """TCP connections that carried at least one Odoo call since the reset (control calls
        excluded): a kept-alive connection opened before the reset counts again at its next call."""
        return self.state()["rpc_connections"]

    def mutations(self) -> list[tuple[int, str, str, bool]]:
        """Every pos.config create or write applied by an Odoo call, in order.

        `(record id, via, name, active)`, `via` being "create", "write", or
        "load" (an upsert that found its external id and wrote the record);
        the name and active are the record's values right after.
        """
        return [tuple(m) for m in self._call("mutations", method="GET")["mutations"]]

    def faults_met(self, since: int = 0) -> list[dict]:
        """Which call met which injected fault, in order, from entry `since` on.

        One entry per Odoo call that consumed at least one fault rule: `n` (its
        place in this ledger, for `since`), `call` (the call's number among all
        Odoo calls received), `key` (`model.method`), and `faults`: each rule's
        `kind` with what tells it apart (`status`, `content_type`, `reason`,
        `apply`, `when`), never a body. A reset empties it.
        """
        return self._call("faults_met", {"since": since})["faults_met"]

    def timed_mutations(self) -> list[tuple[int, str, str, bool, float]]:
        """`mutations()`, each with the moment Odoo applied it (`time.time()` on this machine)."""
        answer = self._call("mutations", method="GET")
        return [(*m, at) for m, at in zip(answer["mutations"], answer["applied_at"], strict=True)]

    def sessions(self) -> list[dict]:
        """One per drain in Odoo (calls carrying one X-Request-ID), or per connection without it.

        `start`: its first request read; `end`: its last reply about to be
        sent (server clock, seconds); `calls`.
        """
        rows = self._call("sessions", method="GET")["sessions"]
        return [{"start": start, "end": end, "calls": calls} for start, end, calls in rows]

    def max_concurrent_sessions(self) -> int:
        """The most sessions that were inside an exchange at one moment.

        Both ends are the server's, between a request read and a reply not yet
        sent, so an overlap proves two clients were mid-session together.
        """
        return self._call("sessions", method="GET")["max_concurrent"]

    def counters(self) -> dict:
        """Calls, connections and random faults injected, without the records (cheap to poll).

        `open_rpc_connections`: TCP connections open now that carried an Odoo
        call (control calls never do), so a client leaking connections shows.
        """
        return self._call("counters", method="GET")

    def deprecation_warnings(self) -> int:
        return self.state()["deprecation_warnings"]
