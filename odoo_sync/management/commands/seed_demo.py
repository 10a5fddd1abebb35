"""`seed_demo`: the demo admin and tenants for `make run` (idempotent; prints the login)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from cafe import services as cafe_services
from cafe.commands import RegsyncCommand
from cafe.models import Plan, Tenant
from odoo_sync import tenants
from registers import services as register_services

DEMO_REGISTERS = [("Front counter", "FC"), ("Terrace", "TER"), ("Drive-through", "DT")]


class Command(RegsyncCommand):
    help = "Create the demo superuser, a Pro tenant on the sandbox Odoo and a Starter tenant."

    def add_arguments(self, parser):
        parser.add_argument("--odoo-url", default=settings.DEMO_ODOO_URL)

    def handle(self, *args, odoo_url: str, **options):
        password = settings.DEMO_ADMIN_PASSWORD
        if not password:
            raise CommandError("DEMO_ADMIN_PASSWORD is not set: run `make .env` first.")
        # A bad --odoo-url is refused before anything is written.
        odoo_url = cafe_services.clean_odoo_url(odoo_url.strip())
        if not odoo_url:
            raise CommandError("--odoo-url cannot be empty: the demo tenant needs an Odoo.")
        user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        user.set_password(password)
        user.save()

        pro = Tenant.objects.filter(slug="demo-roasters").first()
        if pro is None:
            pro = cafe_services.create_tenant(
                name="Demo Roasters",
                slug="demo-roasters",
                plan=Plan.PRO,
                odoo_url=odoo_url,
                odoo_db="regsync",
                odoo_login="admin",
                odoo_api_key=settings.DEMO_ODOO_API_KEY,
            )
            for name, prefix in DEMO_REGISTERS:
                register_services.add_register(pro, name=name, prefix=prefix)
        else:
            # The sandbox Odoo keeps nothing between runs: push everything again.
            tenants.update_odoo_connection(pro, url=odoo_url)
            register_services.relink_all_to_odoo(pro)

        if not Tenant.objects.filter(slug="corner-kiosk").exists():
            starter = cafe_services.create_tenant(name="Corner Kiosk", slug="corner-kiosk")
            register_services.add_register(starter, name="Kiosk", prefix="K1")

        self.stdout.write(
            "\n"
            "  regsync demo is starting:\n"
            f"    admin:        http://127.0.0.1:{settings.WEB_PORT}/\n"
            f"    login:        admin / {password}\n"
            f"    sandbox Odoo: {odoo_url} (db regsync, login admin)\n"
        )
