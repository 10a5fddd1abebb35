"""The "Tenant staff" group: the model rights tenant staff need to use the admin.

Rights only open the admin pages; which tenants and registers a member sees
is scoped by cafe.access. No delete rights: nothing is deleted from the admin.
Permissions are created here (not left to post_migrate) so a fresh database
has the group complete after `migrate`.
"""

from django.db import migrations

GROUP = "Tenant staff"
PERMISSIONS = [
    ("cafe", "tenant", "view"),
    ("cafe", "tenant", "change"),
    ("registers", "posconfig", "view"),
    ("registers", "posconfig", "add"),
    ("registers", "posconfig", "change"),
    ("odoo_sync", "syncattempt", "view"),
]


def create_group(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, model, action in PERMISSIONS:
        content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
        verbose = apps.get_model(app_label, model)._meta.verbose_name
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type,
            codename=f"{action}_{model}",
            defaults={"name": f"Can {action} {verbose}"},
        )
        group.permissions.add(permission)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cafe", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("registers", "0002_pending_push_index"),
        ("odoo_sync", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
