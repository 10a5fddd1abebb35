"""A drift finding is one per config and kind: the new columns, and the rows merged (0009 makes
it a constraint).

Before, every audit added rows for the same configs. The rows of each
(tenant, kind, Odoo id) become one: the latest, first seen when the earliest
was, resolved unless the tenant's latest successful audit saw it, and "local
wins" where it was fixed. The new columns have database defaults, so the
release before keeps running on them during an upgrade (docs/deploy.md).
"""

import django.db.models.functions.datetime
import django.utils.timezone
from django.db import migrations, models


def merge_findings(apps, schema_editor):
    AuditFinding = apps.get_model("odoo_sync", "AuditFinding")
    AuditRun = apps.get_model("odoo_sync", "AuditRun")
    AuditFinding.objects.filter(odoo_id__isnull=True).delete()  # never written by an audit
    latest_ok = {}
    for run in AuditRun.objects.filter(status="ok").order_by("started_at", "id"):
        latest_ok[run.tenant_id] = run
    groups = {}
    rows = AuditFinding.objects.select_related("run").order_by("run__started_at", "run_id", "id")
    for finding in rows:
        groups.setdefault((finding.tenant_id, finding.kind, finding.odoo_id), []).append(finding)
    for same in groups.values():
        keep = same[-1]
        keep.first_seen_at = same[0].run.started_at
        last = latest_ok.get(keep.tenant_id)
        if last is None or keep.run_id != last.pk:
            keep.resolved_at = last.started_at if last else keep.run.started_at
        if keep.fixed_at is not None:
            keep.decision, keep.decided_by, keep.decided_at = "local_wins", "", keep.fixed_at
        keep.save()
        AuditFinding.objects.filter(pk__in=[f.pk for f in same[:-1]]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cafe", "0005_tenant_last_contact"),
        ("odoo_sync", "0007_audit_stale_links"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditrun",
            name="ignored_count",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="auditrun",
            name="connection_revision",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="auditfinding",
            name="first_seen_at",
            field=models.DateTimeField(
                db_default=django.db.models.functions.datetime.Now(),
                default=django.utils.timezone.now,
            ),
        ),
        migrations.AddField(
            model_name="auditfinding",
            name="resolved_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="auditfinding",
            name="decision",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "None yet"),
                    ("local_wins", "Local wins"),
                    ("odoo_value", "Odoo's value accepted"),
                    ("adopted", "Adopted"),
                    ("ignored", "Ignored"),
                ],
                db_default="",
                default="",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="auditfinding",
            name="decided_by",
            field=models.CharField(blank=True, db_default="", default="", max_length=150),
        ),
        migrations.AddField(
            model_name="auditfinding",
            name="decided_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(merge_findings, migrations.RunPython.noop),
    ]
