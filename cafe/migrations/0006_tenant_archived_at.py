from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cafe", "0005_tenant_last_contact"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="archived_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="Archived"),
        ),
    ]
