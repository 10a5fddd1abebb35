"""Onboarding's link policy: which existing pos.config a new register takes instead of a new one.

The rule. Every create that may match names (an operator did not force a new
one) is looked up in its Odoo, in one search per batch, among the configs
(archived too) whose name `name_key` calls equal to its own. A config is a
candidate unless a register of any tenant on the same Odoo (same server and
database: `Tenant.odoo_database`, whichever company) links to it, or it carries another
register's `regsync.` external id. A config carrying this register's own
external id is its own (a create whose reply was lost): the upsert finds it.
No candidate: create. One: link to it, and give it regsync's external id when
Odoo lets us. Several: AmbiguousMatch, and the register waits for an
operator to pick.
"""

import logging
from collections.abc import Iterable

from cafe.models import Tenant
from odoo_client.client import OdooClient
from odoo_client.errors import OdooAccessError, OdooExternalIdTakenError, OdooPermanentError
from odoo_client.names import name_key
from odoo_sync import claims
from registers.models import EXTERNAL_ID_MODULE, PosConfig

log = logging.getLogger("odoo_sync")


class AmbiguousMatch(OdooPermanentError):
    """Several configs in Odoo are named like the register: an operator picks, regsync never guesses."""

    def __init__(self, candidates: list[dict]):
        self.candidates = [
            {"id": c["id"], "name": c["name"], "active": c["active"]} for c in candidates
        ]
        found = ", ".join(
            f"{c['id']} {c['name']!r}{'' if c['active'] else ' (archived)'}"
            for c in self.candidates
        )
        super().__init__(
            f"Odoo already has {len(candidates)} Point of Sale configs named like this register "
            f"({found}): pick the one it is on the register's page, or have a new one created."
        )


class Onboarding:
    """One drain's onboarding: each batch's name lookup and the links made from it."""

    def __init__(self, tenant: Tenant, client: OdooClient, correlation_id: str):
        self.tenant = tenant
        self.client = client
        self.correlation_id = correlation_id
        self.warned_no_access_rights = False
        self.new_batch()

    def new_batch(self) -> None:
        self.matches: dict[str, list[dict]] = {}  # Odoo's configs by name_key
        self.looked_up: set[str] = set()  # the name_keys asked of Odoo in this batch
        self.taken_ids: set[int] = set()  # found configs a register already links
        self.linked_in_batch: set[int] = set()
        self.decided: dict[int, dict | None] = {}  # by register id: its config, or None: create

    def look_up(self, rows: Iterable[claims.Claim]) -> None:
        """One Odoo search for the names of these creates that this batch has not asked yet."""
        names = {
            name_key(c.name): c.name for c in rows if c.action == claims.CREATE and c.matches_name
        }
        wanted = [name for key, name in names.items() if key not in self.looked_up]
        if not wanted:
            return
        found = self.client.find_pos_configs_by_name(wanted)
        self.looked_up.update(name_key(name) for name in wanted)
        by_id = {row["id"]: row for rows in found.values() for row in rows}
        for row in by_id.values():  # each key is new to this batch: no bucket holds it yet
            self.matches.setdefault(name_key(row["name"]), []).append(row)
        # Read, never locked: Odoo has already answered, nothing waits on it.
        self.taken_ids |= set(
            PosConfig.objects.filter(
                tenant_id__in=Tenant.objects.sharing_odoo_with(self.tenant),
                odoo_pos_config_id__in=list(by_id),
            ).values_list("odoo_pos_config_id", flat=True)
        )

    def link(self, claim: claims.Claim) -> dict | None:
        """The config this create is linked to (`id`, `name`, `active`); None: create it.

        Decided once per batch; raises AmbiguousMatch when several are candidates.
        """
        if not claim.matches_name:
            return None
        if claim.register_id not in self.decided:
            self.look_up([claim])  # nothing to ask when the batch's lookup had its name
            match = self.match_for(claim)
            if match is not None:
                try:
                    self.attach_external_id(match["id"], claim)
                    self.linked_in_batch.add(match["id"])
                except OdooExternalIdTakenError:
                    # Odoo already holds this register's own config (under an older name:
                    # the tenant came back to an Odoo it used before): the upsert finds it.
                    match = None
            self.decided[claim.register_id] = match
        return self.decided[claim.register_id]

    def match_for(self, claim: claims.Claim) -> dict | None:
        """The one existing config this create should link to; None to create; raises when several."""
        ours = ".".join(claim.external_id)
        found = self.matches.get(name_key(claim.name), [])
        if any(ours in c["external_ids"] for c in found):
            return None
        free = [
            c
            for c in found
            if c["id"] not in self.taken_ids
            and c["id"] not in self.linked_in_batch
            and not any(x.startswith(f"{EXTERNAL_ID_MODULE}.") for x in c["external_ids"])
        ]
        if len(free) > 1:
            raise AmbiguousMatch(free)
        return free[0] if free else None

    def attach_external_id(self, odoo_id: int, claim: claims.Claim) -> None:
        """Give the linked config regsync's external id, so later creates find it by that id.

        Odoo lets only users with Administration / Access Rights do this
        (docs/odoo.md); without them the link still holds by the Odoo id.
        """
        try:
            self.client.link_pos_config(odoo_id, claim.external_id)
        except OdooAccessError as exc:
            if not self.warned_no_access_rights:
                self.warned_no_access_rights = True
                log.warning(
                    "odoo_sync tenant=%s linked pos.config %s without regsync's external id: %s",
                    self.tenant.slug,
                    odoo_id,
                    exc.message,
                    extra={
                        "correlation_id": self.correlation_id,
                        "tenant": self.tenant.slug,
                        "odoo_id": odoo_id,
                    },
                )
