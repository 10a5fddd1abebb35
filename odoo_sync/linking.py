"""Onboarding's link policy: which existing pos.config a new register takes instead of a new one.

The rule. A create that may match names (an operator did not force a new
one) looks, once per batch, for the configs of its Odoo, archived too, named
like it (`name_key`). A config is a candidate unless a register already links
to it or it carries another register's `regsync.` external id. A config
carrying this register's own external id is its own (a create whose reply
was lost): the upsert finds it. No candidate: create. One: link to it, and
give it regsync's external id when Odoo lets us. Several: AmbiguousMatch,
and the register waits for an operator to pick.
"""

import logging

from odoo_client.client import OdooClient, name_key
from odoo_client.errors import OdooAccessError, OdooExternalIdTakenError, OdooPermanentError
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
    """One drain's onboarding: the batch's name lookup and the links made from it."""

    def __init__(self, tenant, client: OdooClient, correlation_id: str):
        self.tenant = tenant
        self.client = client
        self.correlation_id = correlation_id
        self.matches: dict[str, list[dict]] | None = None  # by name_key, for this batch
        self.taken_ids: set[int] = set()
        self.linked_in_batch: set[int] = set()
        self.warned_no_access_rights = False

    def new_batch(self) -> None:
        self.matches = None
        self.linked_in_batch = set()

    def link(self, claim: claims.Claim) -> dict | None:
        """The config this create is now linked to (`id`, `name`, `active`); None: create it."""
        match = self.match_for(claim) if claim.matches_name else None
        if match is None:
            return None
        try:
            self.attach_external_id(match["id"], claim)
        except OdooExternalIdTakenError:
            # Odoo already holds this register's own config (under an older name:
            # the tenant came back to an Odoo it used before): the upsert finds it.
            return None
        self.linked_in_batch.add(match["id"])
        return match

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

    def look_up(self, names: set[str]) -> None:
        """One Odoo search for these names, and which of the configs found are taken."""
        found = self.client.find_pos_configs_by_name(sorted(names))
        self.matches = {}
        for rows in found.values():
            for row in rows:
                bucket = self.matches.setdefault(name_key(row["name"]), [])
                if row not in bucket:
                    bucket.append(row)
        ids = {row["id"] for rows in self.matches.values() for row in rows}
        # Read, never locked: Odoo has already answered, nothing waits on it.
        self.taken_ids = set(
            PosConfig.objects.filter(
                tenant_id=self.tenant.pk, odoo_pos_config_id__in=ids
            ).values_list("odoo_pos_config_id", flat=True)
        )

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
