"""The drift audit: what changed in a tenant's Odoo behind regsync's back, and what an operator
decides about it.

`audit_tenant` reads every pos.config of the tenant's Odoo (active and
archived, in pages) with the regsync external ids each carries, and compares
it with the registers that are in step (`synced`): a register whose own change
is still on its way is not drift. A finding is one per config and kind
(`AuditFinding`): each run updates the findings it sees again and resolves
the ones it no longer sees; each run is kept (`AuditRun`) for the overview.

What an operator may decide, one function each (the admin and the command
call these; `plan` says beforehand what each would do, for the confirmation
pages):
- `fix_findings` (local wins): a renamed, archived or unarchived config is
  written again from the register; a deleted one is created again.
- `accept_odoo_values`: the register takes Odoo's name or active flag; nothing
  is sent to Odoo.
- `adopt_findings`: a config no register links to (`unknown_in_odoo`, made in
  Odoo's back office) becomes a register of the tenant, linked to it.
- `ignore_findings` / `stop_ignoring`: an unknown config is left alone and no
  longer counts (exit code, overview, metrics) until someone stops ignoring it.
Never written: a register's linked config that carries another register's
external id (`stale_link_in_odoo`: not ours, DESIGN property 14), and one moved
to another company of the database (`moved_company_in_odoo`: neither written
there nor made again). Nothing is ever deleted in Odoo.
"""

import logging
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cafe.models import Plan, Tenant
from odoo_client.errors import OdooAuthError, OdooError
from odoo_sync.drain import client_for
from odoo_sync.explain import explain
from odoo_sync.models import AuditFinding, AuditRun
from registers import services as register_services
from registers.models import (
    EXTERNAL_ID_MODULE,
    PosConfig,
    SyncState,
    another_registers_external_id,
    odoo_external_id,
)
from registers.services import relink_register
from registers.signals import registers_queued
from registers.state import Event, allows, apply_event, lock_register

log = logging.getLogger("odoo_sync")

Kind = AuditFinding.Kind
Decision = AuditFinding.Decision
Status = AuditRun.Status
AUDIT_ACTOR = "audit"
PAGE_SIZE = 200
# Findings that are reported, never fixed: writing there would write a config that is not ours.
LEFT_ALONE = {
    Kind.UNKNOWN: "not a register here",
    Kind.STALE_LINK: "the config carries another register's external id",
    Kind.MOVED_COMPANY: "the config is in another company of the Odoo database now",
}
# Which findings each decision applies to.
DRIFTED = (Kind.RENAMED, Kind.ARCHIVED, Kind.UNARCHIVED)
APPLIES_TO = {
    Decision.LOCAL_WINS: (*DRIFTED, Kind.DELETED),
    Decision.ODOO_VALUE: DRIFTED,
    Decision.ADOPTED: (Kind.UNKNOWN,),
    Decision.IGNORED: (Kind.UNKNOWN,),
}
NOT_APPLICABLE = {
    Decision.LOCAL_WINS: "only a rename, archive, unarchive or deletion made in Odoo is fixed",
    Decision.ODOO_VALUE: "only a rename, archive or unarchive made in Odoo can be accepted",
    Decision.ADOPTED: "only a config that is not a register here can be adopted",
    Decision.IGNORED: "only a config that is not a register here can be ignored",
}


@dataclass
class TenantAudit:
    tenant: Tenant
    status: str
    findings: list[AuditFinding] = field(default_factory=list)
    error: str = ""
    run: AuditRun | None = None

    @property
    def needing_attention(self) -> list[AuditFinding]:
        return [finding for finding in self.findings if finding.needs_attention]

    def as_dict(self) -> dict:
        return {
            "tenant": self.tenant.slug,
            "status": self.status,
            "findings": [finding.as_dict() for finding in self.findings],
        }


# --- reading Odoo and keeping what was found ------------------------------------------------


def _finding(kind, register=None, record=None) -> AuditFinding:
    return AuditFinding(
        kind=kind,
        register=register,
        odoo_id=record["id"] if record else (register.odoo_pos_config_id if register else None),
        local_name=register.name if register else None,
        local_active=register.is_active if register else None,
        odoo_name=record["name"] if record else None,
        odoo_active=record["active"] if record else None,
        odoo_external_id=next(iter(record.get("external_ids") or ()), "") if record else "",
    )


def compare(
    registers: list[PosConfig],
    records: list[dict],
    *,
    others_linked: frozenset[int] = frozenset(),
    moved: dict[int, int] | None = None,
) -> list[AuditFinding]:
    """Drift between a tenant's registers and its Odoo's pos.configs (`id`, `name`, `active`,
    `external_ids`: the regsync external ids attached to each, as "module.name").

    `others_linked`: the configs that registers of other tenants on the same
    Odoo link: theirs, so not unknown here. `moved`: configs registers link that
    are in another company than the tenant's now (id -> company): moved, not deleted.
    """
    moved = moved or {}
    by_id = {record["id"]: record for record in records}
    ours = {".".join(odoo_external_id(register.uuid)) for register in registers}
    linked = {r.odoo_pos_config_id for r in registers if r.odoo_pos_config_id is not None}
    taken = linked | others_linked
    findings = []
    for register in registers:
        if register.odoo_pos_config_id is None:
            continue  # not in Odoo yet
        record = by_id.get(register.odoo_pos_config_id)
        if record is None and register.odoo_pos_config_id in moved:
            # Whatever its state: a write queued for it would be refused, and it is no
            # deletion to undo (`--fix` never makes it again).
            finding = _finding(Kind.MOVED_COMPANY, register)
            finding.odoo_company_id = moved[register.odoo_pos_config_id]
            findings.append(finding)
            continue
        if record and another_registers_external_id(record.get("external_ids", ()), register.uuid):
            # Whatever its state: a write queued for it would land on another register's config.
            findings.append(_finding(Kind.STALE_LINK, register, record))
            continue
        if register.sync_state != SyncState.SYNCED:
            continue  # its own change is on the way: not drift
        if record is None:
            findings.append(_finding(Kind.DELETED, register))
            continue
        if record["name"] != register.name:
            findings.append(_finding(Kind.RENAMED, register, record))
        if record["active"] != register.is_active:
            kind = Kind.ARCHIVED if register.is_active else Kind.UNARCHIVED
            findings.append(_finding(kind, register, record))
    for record in records:
        if record["id"] in taken or ours & set(record.get("external_ids", ())):
            continue  # a register's: linked, or to be found again by its external id
        findings.append(_finding(Kind.UNKNOWN, record=record))
    return findings


def audit_tenant(tenant: Tenant) -> TenantAudit:
    """Read the tenant's Odoo and record what drifted (a run is kept whatever the status)."""
    started = timezone.now()
    if tenant.plan != Plan.PRO or not tenant.has_odoo:
        result = TenantAudit(tenant, Status.DISABLED)
    elif tenant.odoo_paused_at is not None:
        result = TenantAudit(tenant, Status.PAUSED, error=tenant.odoo_paused_reason)
    else:
        result = _read_and_compare(tenant)
    result.run = _keep(result, started)
    return result


def _read_and_compare(tenant: Tenant) -> TenantAudit:
    registers = list(PosConfig.objects.filter(tenant=tenant).order_by("pk"))
    try:
        with client_for(tenant) as client:
            client.authenticate()
            records = client.read_all_pos_configs(page_size=PAGE_SIZE)
            moved, elsewhere = _moved_away(client, tenant, registers, records)
    except OdooAuthError as exc:
        return TenantAudit(tenant, Status.PAUSED, error=explain(exc, tenant).text)
    except OdooError as exc:
        return TenantAudit(tenant, Status.UNREACHABLE, error=explain(exc, tenant).text)
    others = PosConfig.objects.filter(
        tenant_id__in=Tenant.objects.sharing_odoo_with(tenant), odoo_pos_config_id__isnull=False
    ).exclude(tenant=tenant)
    others_linked = frozenset(others.values_list("odoo_pos_config_id", flat=True))
    findings = compare(registers, [*records, *elsewhere], others_linked=others_linked, moved=moved)
    return TenantAudit(tenant, Status.OK, findings=findings)


def _moved_away(client, tenant: Tenant, registers, records) -> tuple[dict[int, int], list]:
    """The configs registers link that the tenant's company does not see but another company
    of the database holds (read across the login's companies; nothing without a company):
    `{id: company}` of those moved there, and, as records, those that carry another
    register's external id there (an id a restore handed out again: a stale link)."""
    if tenant.odoo_company_id is None:
        return {}, []
    seen = {record["id"] for record in records}
    by_id = {r.odoo_pos_config_id: r for r in registers if r.odoo_pos_config_id is not None}
    unseen = sorted(set(by_id) - seen)
    if not unseen:
        return {}, []
    moved, stale = {}, []
    for record in client.pos_configs_anywhere(unseen):
        if record["company_id"] == tenant.odoo_company_id:
            continue
        if another_registers_external_id(record["external_ids"], by_id[record["id"]].uuid):
            stale.append(record)
        else:
            moved[record["id"]] = record["company_id"]
    return moved, stale


# What each run reads afresh, and what merging a finding it saw again may change.
READ_FIELDS = [
    "register",
    "local_name",
    "local_active",
    "odoo_name",
    "odoo_active",
    "odoo_external_id",
    "odoo_company_id",
]
SEEN_FIELDS = [
    "run",
    *READ_FIELDS,
    "first_seen_at",
    "resolved_at",
    "decision",
    "decided_by",
    "decided_at",
]


@transaction.atomic
def _keep(result: TenantAudit, started) -> AuditRun:
    """Record the run; merge what it saw into the tenant's findings (one per config and kind).

    A finding seen again is updated, and reopened if it had been resolved; a
    decision made before this run started no longer holds once the drift is
    seen again, except an ignore. An open finding this run did not see is
    resolved. A run that could not read Odoo changes no finding.
    """
    tenant = Tenant.objects.select_for_update().get(pk=result.tenant.pk)  # one merge at a time
    run = AuditRun.objects.create(
        tenant=tenant,
        started_at=started,
        finished_at=timezone.now(),
        status=result.status,
        error=result.error[:2000],
        connection_revision=result.tenant.odoo_connection_revision,
    )
    if result.status != Status.OK:
        return run
    known = {(f.kind, f.odoo_id): f for f in AuditFinding.objects.filter(tenant=tenant)}
    new, seen, merged = [], [], []
    for found in result.findings:
        finding = known.get((found.kind, found.odoo_id))
        if finding is None:
            found.run, found.tenant, found.first_seen_at = run, tenant, started
            new.append(found)
            merged.append(found)
            continue
        for name in READ_FIELDS:
            setattr(finding, name, getattr(found, name))
        finding.run = run
        if finding.resolved_at is not None:
            finding.resolved_at, finding.first_seen_at = None, started
        decided_before = finding.decided_at is None or finding.decided_at < started
        if finding.decision not in (Decision.NONE, Decision.IGNORED) and decided_before:
            finding.decision, finding.decided_by, finding.decided_at = Decision.NONE, "", None
        seen.append(finding)
        merged.append(finding)
    AuditFinding.objects.bulk_create(new)
    AuditFinding.objects.bulk_update(seen, SEEN_FIELDS)
    AuditFinding.objects.filter(
        tenant=tenant, resolved_at__isnull=True, run__started_at__lt=started
    ).update(resolved_at=timezone.now())
    result.findings = merged  # in the order compare found them
    run.findings_count = len(result.needing_attention)
    run.ignored_count = sum(f.decision == Decision.IGNORED for f in result.findings)
    run.save(update_fields=["findings_count", "ignored_count"])
    return run


def audit(tenants) -> list[TenantAudit]:
    """Audit each tenant in turn; one tenant's Odoo never stops the others."""
    return [audit_tenant(tenant) for tenant in tenants]


# --- what a decision would do, and why a finding is left alone -------------------------------


@dataclass(frozen=True)
class Preview:
    """What deciding something about a finding would do, in an operator's words; `applies`:
    whether it would do anything."""

    applies: bool
    text: str


def _side(active) -> str:
    return "active" if active else "archived"


def left_alone(finding: AuditFinding, decision: str) -> str:
    """Why `decision` does nothing to this finding; "" when it applies."""
    if finding.kind not in APPLIES_TO[decision]:
        if decision == Decision.LOCAL_WINS and finding.kind in LEFT_ALONE:
            return f"never written from here: {LEFT_ALONE[finding.kind]}"
        return NOT_APPLICABLE[decision]
    if finding.resolved_at is not None:
        return "the drift is gone"
    if finding.decision == decision:
        return f"already decided by {finding.decided_by or 'someone'}"
    if finding.decision not in (Decision.NONE, Decision.IGNORED):
        return f"already decided: {finding.get_decision_display().lower()}"
    if decision == Decision.ADOPTED and finding.odoo_external_id.startswith(
        f"{EXTERNAL_ID_MODULE}."
    ):
        # Another register's (or was): never ours to take (DESIGN property 14).
        return f"it carries {finding.odoo_external_id}: it is (or was) another register's"
    return ""


def plan(finding: AuditFinding, decision: str) -> Preview:
    """What `decision` would do to `finding`, as the confirmation page lists it."""
    why = left_alone(finding, decision)
    if why:
        return Preview(False, "left alone: " + why)
    name, odoo_id = finding.local_name, finding.odoo_id
    if decision == Decision.LOCAL_WINS:
        register = finding.register
        if register is not None:
            name = register.name
        text = {
            Kind.RENAMED: f"writes the name {name!r} to pos.config {odoo_id} in Odoo "
            f"(Odoo has {finding.odoo_name!r})",
            Kind.ARCHIVED: f"makes pos.config {odoo_id} active again in Odoo (archived there)",
            Kind.UNARCHIVED: f"archives pos.config {odoo_id} again in Odoo (active there)",
            Kind.DELETED: f"creates {name!r} in Odoo again (pos.config {odoo_id} was deleted "
            "there)",
        }[finding.kind]
    elif decision == Decision.ODOO_VALUE:
        text = {
            Kind.RENAMED: f"the register {name!r} is renamed {finding.odoo_name!r} here",
            Kind.ARCHIVED: f"the register {name!r} is deactivated here",
            Kind.UNARCHIVED: f"the register {name!r} is reactivated here",
        }[finding.kind] + "; nothing is sent to Odoo"
    elif decision == Decision.ADOPTED:
        text = (
            f"becomes the register {finding.odoo_name!r} ({_side(finding.odoo_active)}) of "
            f"{finding.tenant.name}; the next sync attaches regsync's external id to "
            f"pos.config {odoo_id} in Odoo and writes nothing else"
        )
    else:
        text = (
            f"pos.config {odoo_id} {finding.odoo_name!r} is ignored: left as it is in Odoo, "
            "and no longer counted as drift"
        )
    return Preview(True, text)


def state_words(finding: AuditFinding) -> str:
    """Where a finding stands, in the words of docs/admin.md's glossary."""
    by = f" by {finding.decided_by}" if finding.decided_by else ""
    decided = f"{finding.get_decision_display()}{by}" if finding.decision else ""
    if finding.resolved_at is not None:
        return "Resolved" + (f" ({decided})" if decided else "")
    if finding.decision == Decision.LOCAL_WINS:
        return f"{decided}: queued to be written to Odoo"
    if finding.decision:
        return decided
    if finding.kind == Kind.STALE_LINK:
        whose = finding.odoo_external_id or "another register's external id"
        return f"Needs a decision; never written from here (it carries {whose})"
    if finding.kind == Kind.MOVED_COMPANY:
        return (
            f"Needs a decision; never written from here (it is in company "
            f"{finding.odoo_company_id} in Odoo: move it back there, or relink the register)"
        )
    return "Needs a decision"


# --- the decisions ----------------------------------------------------------------------------


def _locked_finding(
    finding: AuditFinding, decision: str, *, tenant_first: bool = False
) -> AuditFinding | None:
    """The finding, locked and re-read, if `decision` still applies to it.

    Locks are taken tenant, finding, register, in that order, by everything here.
    """
    if tenant_first:
        Tenant.objects.select_for_update().filter(pk=finding.tenant_id).first()
    row = AuditFinding.objects.select_for_update().get(pk=finding.pk)
    return None if left_alone(row, decision) else row


def _decided(finding: AuditFinding, decision: str, actor: str, *, resolved: bool) -> None:
    finding.decision, finding.decided_by, finding.decided_at = decision, actor[:150], timezone.now()
    fields = ["decision", "decided_by", "decided_at"]
    if resolved:
        finding.resolved_at = finding.decided_at
        fields.append("resolved_at")
    finding.save(update_fields=fields)


def fix_finding(finding: AuditFinding, *, actor: str = AUDIT_ACTOR) -> bool:
    """Local truth wins for one finding, where safe; True when the write (or create) that
    fixes it was queued, and only then is the finding decided "local wins".

    A drifted register is re-queued with Odoo's values as the audit read them
    (`drift_fixed`), so the write sends what Odoo differs in even when the
    register is already pending an update of something else; a write then in
    flight is superseded. A dead letter stays the operator's to retry.
    """
    if finding.register_id is None or left_alone(finding, Decision.LOCAL_WINS):
        return False
    with transaction.atomic():
        finding = _locked_finding(finding, Decision.LOCAL_WINS)  # the finding, then its register
        if finding is None or finding.register_id is None:
            return False
        row = lock_register(finding.register_id)
        if row.odoo_pos_config_id != finding.odoo_id or _known_stale(finding):
            return False  # moved on since the audit, or the link is known stale
        if finding.kind == Kind.DELETED:
            fixed = relink_register(row.pk, detail="deleted in Odoo: created again", actor=actor)
        elif allows(row, Event.DRIFT_FIXED):
            apply_event(
                row,
                Event.DRIFT_FIXED,
                actor=actor,
                detail=f"{finding.get_kind_display()}: local wins",
                odoo_name=finding.odoo_name,
                odoo_active=finding.odoo_active,
            )
            fixed = True
        else:
            fixed = False
        if fixed:
            _decided(finding, Decision.LOCAL_WINS, actor, resolved=False)
    return fixed


def _known_stale(finding: AuditFinding) -> bool:
    """Whether an audit found this register's link stale and saw it so last (an older
    finding fixed from the admin must not write a config that is not the register's)."""
    return AuditFinding.objects.filter(
        tenant_id=finding.tenant_id,
        kind=Kind.STALE_LINK,
        register_id=finding.register_id,
        odoo_id=finding.odoo_id,
        resolved_at__isnull=True,
    ).exists()


def fix_findings(findings, *, actor: str = AUDIT_ACTOR) -> int:
    """Fix each finding (see `fix_finding`); how many were fixed. Their tenants push soon."""
    fixed = [finding for finding in findings if fix_finding(finding, actor=actor)]
    for tenant_id in sorted({finding.tenant_id for finding in fixed}):
        transaction.on_commit(
            lambda tenant_id=tenant_id: registers_queued.send(sender=PosConfig, tenant_id=tenant_id)
        )
    return len(fixed)


def _each(findings, decision: str, act, *, tenant_first=False) -> tuple[int, dict[str, int]]:
    """Run `act(finding)` on each finding `decision` applies to, each in its own transaction;
    (how many it did, {why left alone: how many})."""
    done, left = 0, {}
    for finding in findings:
        why = left_alone(finding, decision)
        if not why:
            try:
                with transaction.atomic():
                    locked = _locked_finding(finding, decision, tenant_first=tenant_first)
                    if locked is None:
                        why = "changed since this page was shown"
                    else:
                        act(locked)
                        done += 1
            except ValidationError as exc:
                why = " ".join(exc.messages)
        if why:
            left[why] = left.get(why, 0) + 1
    return done, left


def accept_odoo_values(findings, *, actor: str) -> tuple[int, dict[str, int]]:
    """ "Accept Odoo's value": each drifted register takes Odoo's name or active flag, as the
    audit read it (registers.services.accept_odoo_value); nothing is sent to Odoo."""

    def accept(finding: AuditFinding) -> None:
        if finding.register is None:
            raise ValidationError("its register no longer exists")
        renamed = finding.kind == Kind.RENAMED
        register_services.accept_odoo_value(
            finding.register,
            odoo_id=finding.odoo_id,
            field="name" if renamed else "active",
            was=finding.local_name if renamed else finding.local_active,
            odoo_name=finding.odoo_name,
            odoo_active=finding.odoo_active,
            actor=actor,
        )
        _decided(finding, Decision.ODOO_VALUE, actor, resolved=True)

    return _each(findings, Decision.ODOO_VALUE, accept)


def suggested_prefix(name: str) -> str:
    """A sequence prefix for a register adopted under `name`: its letters and digits, upper case."""
    letters = "".join(ch for ch in name.upper() if ch.isascii() and ch.isalnum())
    return letters[:4] or "POS"


def adopt_findings(findings, *, prefixes: dict[int, str], actor: str) -> tuple[int, dict[str, int]]:
    """ "Adopt": each unknown config becomes a register of its tenant, linked to it, with its
    name and active flag and the sequence prefix given for it (`prefixes` by finding id).

    A config that carries a regsync external id is (or was) another register's
    and is never adopted (DESIGN property 14).
    """

    def adopt(finding: AuditFinding) -> None:
        register = register_services.adopt_odoo_config(
            finding.tenant,
            odoo_id=finding.odoo_id,
            name=finding.odoo_name,
            active=finding.odoo_active,
            prefix=prefixes.get(finding.pk, ""),
            connection_revision=finding.run.connection_revision,
            actor=actor,
        )
        finding.register = register
        finding.save(update_fields=["register"])
        _decided(finding, Decision.ADOPTED, actor, resolved=True)

    return _each(findings, Decision.ADOPTED, adopt, tenant_first=True)


def ignore_findings(findings, *, actor: str) -> tuple[int, dict[str, int]]:
    """ "Ignore": unknown configs left as they are in Odoo and no longer counted as drift (the
    command's exit code, the overview, /metrics), recorded with who; kept while seen."""
    return _each(
        findings,
        Decision.IGNORED,
        lambda finding: _decided(finding, Decision.IGNORED, actor, resolved=False),
    )


def stop_ignoring(findings, *, actor: str) -> int:
    """An ignored config counts as drift again (logged with who)."""
    ids = [f.pk for f in findings if f.decision == Decision.IGNORED and f.resolved_at is None]
    undone = AuditFinding.objects.filter(pk__in=ids, decision=Decision.IGNORED).update(
        decision=Decision.NONE, decided_by="", decided_at=None
    )
    if undone:
        log.info("odoo_sync audit: %s stopped ignoring %d config(s)", actor, undone)
    return undone
