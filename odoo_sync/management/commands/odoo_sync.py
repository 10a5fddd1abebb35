"""`odoo_sync --once` drains now, in this process; `odoo_sync --status` counts registers by state."""

import json

from django.core.management.base import CommandError

from cafe.commands import USAGE_ERROR, RegsyncCommand
from cafe.models import Tenant
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
        parser.add_argument("--tenant", metavar="SLUG", help="only this tenant")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, once, status, tenant, json: bool, **options):
        tenant_obj = None
        if tenant is not None:
            tenant_obj = Tenant.objects.filter(slug=tenant).first()
            if tenant_obj is None:
                raise CommandError(f"no tenant with slug {tenant!r}", returncode=USAGE_ERROR)
        if status:
            self._status(tenant_obj, as_json=json)
            return
        self._once(tenant_obj, as_json=json)

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
        results, totals = drain.drain_all(tenant_ids=tenant_ids, ignore_outage_backoff=True)
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


def _dumps(data) -> str:
    return json.dumps(data, indent=2, sort_keys=False)
