"""Tenants (cafe businesses), their staff memberships and Odoo connection."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from cafe.fields import EncryptedTextField
from odoo_client.urlcheck import site_key


class Plan(models.TextChoices):
    STARTER = "starter", "Starter"
    PRO = "pro", "Pro"


class OdooProtocol(models.TextChoices):
    AUTO = "auto", "Detect from Odoo's version"
    XMLRPC = "xmlrpc", "XML-RPC (Odoo 16-19)"
    JSON2 = "json2", "JSON-2 (Odoo 19+)"


class TenantQuerySet(models.QuerySet):
    def connection_complete(self):
        return (
            self.exclude(odoo_url="")
            .exclude(odoo_db="")
            .exclude(odoo_login="")
            .exclude(odoo_api_key="")
        )

    def with_odoo(self):
        """Pro tenants, not archived, with a complete Odoo connection: their registers belong in Odoo."""
        return self.connection_complete().filter(plan=Plan.PRO, archived_at__isnull=True)

    def sync_enabled(self):
        """Tenants `with_odoo` that are not paused: their registers are pushed now."""
        return self.with_odoo().filter(odoo_paused_at__isnull=True)

    def never_connected(self):
        """Tenants `sync_enabled` whose connection Odoo has not once accepted ("Not connected yet")."""
        return self.sync_enabled().filter(odoo_last_contact_at__isnull=True)

    def sharing_odoo_with(self, tenant: "Tenant") -> list[int]:
        """The ids of the tenants whose registers live where `tenant`'s do (itself included).

        They share that Odoo's pos.configs: one that any of them links is taken
        for all (odoo_sync.linking), whichever company each is in. Equal
        `Tenant.odoo_database`s decide.
        """
        if not tenant.odoo_url:
            return [tenant.pk]
        target = tenant.odoo_database
        same_db = self.filter(odoo_db=tenant.odoo_db).only("pk", "odoo_url", "odoo_db")
        return sorted({tenant.pk} | {t.pk for t in same_db if t.odoo_database == target})

    def in_the_same_company_as(self, tenant: "Tenant") -> list["Tenant"]:
        """Other tenants (not archived) naming the same company of the same Odoo database:
        they would own each other's registers, so a save that makes one is refused."""
        if not tenant.odoo_url or not tenant.odoo_company_id:
            return []
        same = self.filter(
            odoo_db=tenant.odoo_db, odoo_company_id=tenant.odoo_company_id, archived_at=None
        ).exclude(pk=tenant.pk)
        return [t for t in same if t.odoo_database == tenant.odoo_database]


class Tenant(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.STARTER)

    odoo_url = models.URLField("Odoo URL", blank=True, help_text="e.g. https://acme.odoo.com")
    odoo_db = models.CharField("Odoo database", max_length=200, blank=True)
    odoo_login = models.CharField("Odoo login", max_length=200, blank=True)
    odoo_api_key = EncryptedTextField("Odoo API key", blank=True)
    odoo_protocol = models.CharField(
        max_length=8, choices=OdooProtocol.choices, default=OdooProtocol.AUTO
    )
    # The Odoo company (`res.company` id) the tenant's registers live in, on a database
    # with several; every call runs in it (docs/odoo.md "Several companies in one
    # database"). None: the login's default company, as before companies were known.
    odoo_company_id = models.PositiveIntegerField("Odoo company", null=True, blank=True)
    # Its name as Odoo last said it (or, with no company chosen, the login's default
    # company's), for the admin; and the companies the login may use: [{"id", "name"}],
    # with the default first. Both written by Test connection and a save that checks.
    odoo_company_name = models.CharField(max_length=200, blank=True, editable=False)
    odoo_companies = models.JSONField(default=list, blank=True, editable=False)

    # Tenant-level sync health, written only by odoo_sync's queue functions.
    # Paused: Odoo rejected the credentials; nothing is sent until the
    # connection is edited. Unreachable: login failed for network reasons; the
    # tenant backs off as a whole and its rows keep their attempts.
    odoo_paused_at = models.DateTimeField(null=True, blank=True)
    odoo_paused_reason = models.TextField(blank=True)
    odoo_unreachable_since = models.DateTimeField(null=True, blank=True)
    odoo_outage_failures = models.PositiveIntegerField(default=0)
    odoo_next_attempt_at = models.DateTimeField(null=True, blank=True)
    odoo_last_error = models.TextField(blank=True)
    odoo_server_version = models.CharField(max_length=64, blank=True)
    # The last time Odoo accepted a login of this connection (a drain or Test
    # connection); None until then, and again after the connection is edited.
    odoo_last_contact_at = models.DateTimeField("Last contact with Odoo", null=True, blank=True)
    # The protocol that last logged in (on "auto"): later drains use it without
    # detecting again. A password on 19.0 works over XML-RPC only, so this is
    # what worked, not what the version alone would pick.
    odoo_detected_protocol = models.CharField(max_length=8, blank=True)
    # The uid Odoo's login returned, and the connection revision it was returned
    # for: drains call with it instead of logging in again (a login costs ~1 s of
    # key hashing in Odoo). A uid of another revision is not known (`known_odoo_uid`).
    odoo_uid = models.PositiveIntegerField(null=True, blank=True, editable=False)
    odoo_uid_revision = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # Bumped by every edit of the connection. A drain records the tenant's
    # health only against the revision it logged in with, so a late answer to
    # the old credentials cannot pause (or back off) a freshly fixed tenant.
    odoo_connection_revision = models.PositiveIntegerField(default=0, editable=False)
    # The lease a drain holds on the tenant when no Redis is configured (see
    # odoo_sync.locks); it expires by itself if the worker dies.
    drain_lock_token = models.UUIDField(null=True, blank=True, editable=False)
    drain_locked_until = models.DateTimeField(null=True, blank=True, editable=False)

    # Archived (a mistyped or departed cafe): it no longer syncs, and keeps its
    # registers and history (cafe.services.archive_tenant).
    archived_at = models.DateTimeField("Archived", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(plan__in=[Plan.STARTER, Plan.PRO]), name="cafe_tenant_plan_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        # Never the API key: only whether one is set.
        key = "set" if self.odoo_api_key else "not set"
        return f"<Tenant {self.slug!r} plan={self.plan} odoo_api_key={key}>"

    @property
    def connection_complete(self) -> bool:
        return all([self.odoo_url, self.odoo_db, self.odoo_login, self.odoo_api_key])

    @property
    def known_odoo_uid(self) -> int | None:
        """The uid a login of the current connection returned, or None (log in first)."""
        if self.odoo_uid_revision != self.odoo_connection_revision:
            return None
        return self.odoo_uid

    @property
    def odoo_database(self) -> tuple[str, str]:
        """The Odoo database this tenant's registers live in: the server (`site_key`: case,
        default port and trailing slash do not count) and the database. The one definition of
        "the same Odoo" for ownership: a config is one record of a database, whichever
        company it is in (sharing_odoo_with, the onboarding lock); another database is a
        move: the ids held point nowhere there (cafe.services). Another company of the same
        database is not: the configs are where they were, and the tenant's company no
        longer sees them until they are moved there in Odoo (`moved_company_in_odoo`)."""
        return (site_key(self.odoo_url), self.odoo_db)

    @property
    def odoo_company_label(self) -> str:
        """The company, by name, as the admin says it ("" when nothing is known yet)."""
        if self.odoo_company_id:
            name = self.odoo_company_name or "a company not checked yet"
            return f"{name} (company {self.odoo_company_id})"
        if self.odoo_company_name:
            return f"{self.odoo_company_name} (the login's default company: none chosen)"
        return ""

    # The rule of DESIGN.md, here and in TenantQuerySet only (a test holds them equal).
    @property
    def has_odoo(self) -> bool:
        """Pro, not archived, with a complete connection: its registers belong in Odoo (it may be paused)."""
        return self.plan == Plan.PRO and self.archived_at is None and self.connection_complete

    @property
    def is_sync_enabled(self) -> bool:
        """Pro, a complete connection, not paused: its registers are pushed now."""
        return self.has_odoo and self.odoo_paused_at is None

    @property
    def never_connected(self) -> bool:
        """Sync-enabled, and Odoo has not once accepted this connection (`never_connected()`)."""
        return self.is_sync_enabled and self.odoo_last_contact_at is None


class Membership(models.Model):
    """A staff user's access to one tenant. Superusers need none: they see all."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="cafe_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant}"
