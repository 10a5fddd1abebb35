"""`odoo_sync --once` drains now, in this process; `--status` counts registers by state;
`--audit` shows what changed in Odoo behind regsync's back (`--fix`: local truth wins), with the
rules of odoo_sync.audit, as the admin's drift findings do."""

import json

from django.core.management.base import CommandError
from tqdm import tqdm

from cafe.commands import USAGE_ERROR, RegsyncCommand
from cafe.models import Plan, Tenant
from odoo_sync import audit as drift_audit
from odoo_sync import drain, reporting


class Command(RegsyncCommand):
    help = (
        "Push due register changes to Odoo now (--once), or show sync counts (--status). "
        "--once is an operator's try-now: it skips a tenant's outage backoff, never a "
        "credentials pause nor the registers' own backoff."
    )

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--once", action="store_true", help="drain due registers now")
        mode.add_argument("--status", action="store_true", help="print counts per sync state")
        mode.add_argument(
            "--audit",
            action="store_true",
            help="compare each Pro tenant's pos.configs in Odoo with its registers; "
            "exit 0 when nothing needs a decision (in step, or only ignored configs and fixes "
            "under way), 1 otherwise",
        )
        parser.add_argument("--tenant", metavar="SLUG", help="only this tenant")
        parser.add_argument(
            "--fix",
            action="store_true",
            help="with --audit: local truth wins (re-queue renamed, archived, unarchived and "
            "deleted registers; configs unknown here, and configs carrying another register's "
            "external id, are never touched)",
        )
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, once, status, audit, tenant, fix, json: bool, **options):
        if fix and not audit:
            raise CommandError("--fix goes with --audit", returncode=USAGE_ERROR)
        tenant_obj = None
        if tenant is not None:
            tenant_obj = Tenant.objects.filter(slug=tenant).first()
            if tenant_obj is None:
                raise CommandError(f"no tenant with slug {tenant!r}", returncode=USAGE_ERROR)
        if status:
            self._status(tenant_obj, as_json=json)
            return
        if audit:
            self._audit(tenant_obj, fix=fix, as_json=json)
            return
        self._once(tenant_obj, as_json=json)

    def _audit(self, tenant, *, fix: bool, as_json: bool) -> None:
        tenants = [tenant] if tenant else Tenant.objects.filter(plan=Plan.PRO).order_by("slug")
        results = drift_audit.audit(self._progress("Auditing", quiet=as_json)(list(tenants)))
        fixed = 0
        if fix:
            fixed = drift_audit.fix_findings([f for r in results for f in r.findings])
            for finding in (f for r in results for f in r.findings):
                finding.refresh_from_db()  # decided "local wins", or not
        if as_json:
            self.stdout.write(_dumps({"tenants": [result.as_dict() for result in results]}))
        else:
            self._audit_table(results, fixed=fixed if fix else None)
        if any(result.needing_attention for result in results):
            # Exit 1 while a finding needs someone: ignored configs and fixes under way do not.
            raise SystemExit(1)

    def _progress(self, what: str, *, quiet: bool):
        """A progress bar over tenants on a terminal; nothing with --json or into a pipe."""

        def wrap(items):
            shown = not quiet and self.stderr.isatty() and len(items) > 1
            return tqdm(items, desc=what, unit="tenant", file=self.stderr._out, disable=not shown)

        return wrap

    def _audit_table(self, results, *, fixed: int | None) -> None:
        rows = [("TENANT", "STATUS", "FINDING", "REGISTER", "ODOO ID", "HERE", "IN ODOO", "STATE")]
        for result in results:
            if not result.findings:
                rows.append(
                    (result.tenant.slug, result.status, "-", "", "", "", result.error[:60], "")
                )
            for finding in result.findings:
                rows.append(
                    (
                        result.tenant.slug,
                        result.status,
                        finding.kind,
                        str(finding.register_id or "-"),
                        str(finding.odoo_id or "-"),
                        _side(finding.local_name, finding.local_active),
                        _side(finding.odoo_name, finding.odoo_active),
                        drift_audit.state_words(finding),
                    )
                )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
        found = sum(len(result.findings) for result in results)
        needing = sum(len(result.needing_attention) for result in results)
        summary = f"{found} finding(s) in {len(results)} tenant(s), {needing} need a decision"
        if fixed is not None:
            summary += (
                f"; {fixed} fixed (local wins); unknown configs and stale links "
                "(a config carrying another register's external id) left alone"
            )
        self.stdout.write(summary)

    def _status(self, tenant, *, as_json: bool) -> None:
        counts = reporting.status_counts(tenant_id=tenant.pk if tenant else None)
        if as_json:
            self.stdout.write(_dumps({"tenant": tenant.slug if tenant else None, **counts}))
            return
        if tenant:
            self.stdout.write(f"tenant = {tenant.slug}")
        for key, value in counts.items():
            self.stdout.write(f"{key} = {value}")

    def _once(self, tenant, *, as_json: bool) -> None:
        tenant_ids = [tenant.pk] if tenant else None
        results, totals = drain.drain_all(
            tenant_ids=tenant_ids,
            ignore_outage_backoff=True,
            progress=self._progress("Draining", quiet=as_json),
        )
        if as_json:
            self.stdout.write(
                _dumps({"tenants": [r.as_dict() for r in results], "totals": totals.as_dict()})
            )
        else:
            if not results:
                self.stdout.write("nothing due")
            for r in results:
                line = (
                    f"{r.tenant or r.tenant_id}: {r.status} created={r.created} "
                    f"create_failed={r.create_failed} updated={r.updated} "
                    f"update_failed={r.update_failed} dead_lettered={r.dead_lettered} "
                    f"skipped={r.skipped}"
                )
                if r.error:
                    line += f" error={r.error.splitlines()[-1][:200]!r}"
                self.stdout.write(line)
            self.stdout.write("total: " + " ".join(f"{k}={v}" for k, v in totals.as_dict().items()))
        if totals.create_failed + totals.update_failed:
            # Exit 1 when a register failed in this run. A tenant that could not
            # be reached or is paused is reported above but charges no register.
            raise SystemExit(1)


def _side(name, active) -> str:
    if name is None:
        return "-"
    return f"{name!r} {'active' if active else 'archived'}"


def _dumps(data) -> str:
    return json.dumps(data, indent=2, sort_keys=False)
