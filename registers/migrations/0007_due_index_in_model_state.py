"""The partial index on due work moves into the model's state, under a shorter name.

Migration 0002 made it with RunSQL, so Django's migration state never knew it;
SQLite's schema editor rebuilds `cafe_pos_configs` for later migrations from
that state and dropped it, leaving the embedded default (`make run`) scanning
the table on every tick. Declared in `Meta.indexes` it survives every rebuild,
on SQLite as on PostgreSQL. The old name was longer than Meta.indexes allows.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("registers", "0006_what_odoo_holds"),
    ]

    operations = [
        migrations.RunSQL(
            sql="DROP INDEX IF EXISTS cafe_pos_configs_pending_push_idx",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name="posconfig",
            index=models.Index(
                condition=models.Q(("sync_state__in", ("pending_create", "pending_update"))),
                fields=["next_attempt_at", "tenant"],
                name="cafe_pos_configs_due_idx",
            ),
        ),
    ]
