"""The partial index on due sync work: finding it costs O(pending), not O(registers).

Its name is longer than Meta.indexes allows (30 characters), hence RunSQL. The
same SQL is valid on PostgreSQL and SQLite, which both support partial indexes.
"""

from django.db import migrations

INDEX = "cafe_pos_configs_pending_push_idx"


class Migration(migrations.Migration):
    dependencies = [
        ("registers", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            sql=(
                f"CREATE INDEX {INDEX} ON cafe_pos_configs (next_attempt_at, tenant_id) "
                "WHERE sync_state IN ('pending_create', 'pending_update')"
            ),
            reverse_sql=f"DROP INDEX {INDEX}",
        ),
    ]
