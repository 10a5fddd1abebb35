"""The merge of 0008 made a rule: one finding per tenant, kind and Odoo id.

Its own migration: PostgreSQL does not alter a table whose rows the same
transaction has just changed (pending deferred foreign-key checks). During an
upgrade, an audit by the release before (it added rows for each run) fails on
the constraint and is recorded nowhere; the next audit runs the new code.
`fixed_at` stays, unused, until the next release drops it (docs/deploy.md).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("odoo_sync", "0008_one_finding_per_config_and_kind"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditfinding",
            name="odoo_id",
            field=models.PositiveIntegerField(),
        ),
        migrations.AlterModelOptions(
            name="auditfinding",
            options={"ordering": ["tenant", "kind", "odoo_id"], "verbose_name": "drift finding"},
        ),
        migrations.AddConstraint(
            model_name="auditfinding",
            constraint=models.UniqueConstraint(
                fields=("tenant", "kind", "odoo_id"), name="odoo_sync_one_finding_per_config_kind"
            ),
        ),
    ]
