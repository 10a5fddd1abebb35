"""Which registers' configs regsync made (their updates go by external id, issue 21)."""

from django.db import migrations, models

LINKS = ("linked_existing", "linked_by_operator")
MADE = "create_landed"


def mark_configs_regsync_made(apps, schema_editor):
    """A register holding an id whose last create-or-link event is a create made its config."""
    PosConfig = apps.get_model("registers", "PosConfig")
    RegisterEvent = apps.get_model("registers", "RegisterEvent")
    made = []
    linked = PosConfig.objects.filter(odoo_pos_config_id__isnull=False).values_list("pk", flat=True)
    for pk in linked.iterator():
        last = (
            RegisterEvent.objects.filter(register_id=pk, action__in=(MADE, *LINKS))
            .order_by("-pk")
            .values_list("action", flat=True)
            .first()
        )
        if last == MADE:
            made.append(pk)
    for start in range(0, len(made), 1000):
        PosConfig.objects.filter(pk__in=made[start : start + 1000]).update(
            odoo_made_by_regsync=True
        )


class Migration(migrations.Migration):
    dependencies = [("registers", "0007_due_index_in_model_state")]

    operations = [
        migrations.AddField(
            model_name="posconfig",
            name="odoo_made_by_regsync",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(mark_configs_regsync_made, migrations.RunPython.noop),
    ]
