"""Business operations on tenants: creation, plan, the Odoo connection, staff access.

Only the tenant's own row: what a plan or connection change does to its
registers is the sync layer's (`odoo_sync.tenants`), which calls these inside
its transaction and reads the returned `TenantChange`.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cafe import text
from cafe.models import Membership, OdooProtocol, Plan, Tenant
from odoo_client.urlcheck import OdooUrlError, check_odoo_url

_UNSET = object()
# Odoo API keys are 40 characters; a password may stand in for one (XML-RPC).
API_KEY_MAX_LENGTH = 512


def _max_length(field: str) -> int:
    return Tenant._meta.get_field(field).max_length


def clean_tenant_name(name: str) -> str:
    return text.clean_name(
        name, field="name", what="The tenant name", max_length=_max_length("name")
    )


def clean_odoo_db(db: str) -> str:
    return text.clean_identifier(
        db, field="odoo_db", what="The Odoo database", max_length=_max_length("odoo_db")
    )


def clean_odoo_login(login: str) -> str:
    return text.clean_identifier(
        login, field="odoo_login", what="The Odoo login", max_length=_max_length("odoo_login")
    )


def clean_api_key(key: str) -> str:
    return text.clean_secret(
        key, field="odoo_api_key", what="The Odoo API key", max_length=API_KEY_MAX_LENGTH
    )


def clean_odoo_url(url: str) -> str:
    if not url:
        return ""
    try:
        return check_odoo_url(
            url,
            allow_private=settings.ODOO_ALLOW_PRIVATE_URLS,
            require_https=settings.ODOO_REQUIRE_HTTPS,
        )
    except OdooUrlError as exc:
        raise ValidationError({"odoo_url": str(exc)}) from exc


def _clean_plan(plan: str) -> str:
    if plan not in Plan.values:
        raise ValidationError({"plan": f"Unknown plan {plan!r}; choose starter or pro."})
    return plan


@dataclass(frozen=True)
class TenantChange:
    """A tenant after a plan or connection edit, and what the edit means for its registers."""

    tenant: Tenant
    became_sync_enabled: bool = False
    # Another Odoo (URL or database): the Odoo ids its registers hold point nowhere there.
    moved_odoo: bool = False


def create_tenant(
    *,
    name: str,
    slug: str,
    plan: str = Plan.STARTER,
    odoo_url: str = "",
    odoo_db: str = "",
    odoo_login: str = "",
    odoo_api_key: str = "",
    odoo_protocol: str = OdooProtocol.AUTO,
    odoo_company_id: int | None = None,
    odoo_company_name: str = "",
    odoo_companies: list | None = None,
) -> Tenant:
    """`odoo_company_name` and `odoo_companies`: what Odoo said of the login's companies
    when the form checked them (odoo_sync.connection.check_company), for the admin."""
    # Resolving the URL's host waits on DNS: done before any transaction opens.
    odoo_url = clean_odoo_url(odoo_url)
    with transaction.atomic():
        tenant = Tenant(
            name=clean_tenant_name(name),
            slug=slug,
            plan=_clean_plan(plan),
            odoo_url=odoo_url,
            odoo_db=clean_odoo_db(odoo_db),
            odoo_login=clean_odoo_login(odoo_login),
            odoo_api_key=clean_api_key(odoo_api_key),
            odoo_protocol=odoo_protocol,
            odoo_company_id=clean_company_id(odoo_company_id),
            odoo_company_name=(odoo_company_name or "")[:200],
            odoo_companies=odoo_companies or [],
        )
        tenant.full_clean()
        _refuse_a_shared_company(tenant)
        tenant.save()
        return tenant


def clean_company_id(company_id) -> int | None:
    """An Odoo company id as typed or chosen: a positive whole number, or None (blank)."""
    if company_id in (None, ""):
        return None
    try:
        value = int(company_id)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise ValidationError(
            {"odoo_company_id": f"{company_id!r} is not an Odoo company id (a whole number)."}
        )
    return value


def _refuse_a_shared_company(tenant: Tenant) -> None:
    """Two tenants in one company of one Odoo database would own each other's registers."""
    others = Tenant.objects.in_the_same_company_as(tenant)
    if others:
        raise ValidationError(
            {
                "odoo_company_id": f"{others[0].name} already syncs into company "
                f"{tenant.odoo_company_id} of this Odoo database: two tenants in one company "
                "would own each other's registers. Choose this cafe's own company."
            }
        )


def set_plan(tenant: Tenant, *, plan: str) -> TenantChange:
    """Move a tenant between plans (in the caller's transaction, if any)."""
    plan = _clean_plan(plan)
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        was_enabled = tenant.is_sync_enabled
        tenant.plan = plan
        tenant.save(update_fields=["plan", "updated_at"])
        return TenantChange(tenant, became_sync_enabled=tenant.is_sync_enabled and not was_enabled)


def clean_connection_edit(*, url: str = _UNSET, **fields) -> dict:
    """The edit's fields, with the URL checked; waits on DNS, so call it outside a transaction."""
    if url is not _UNSET:
        fields["url"] = clean_odoo_url(url.strip())
    return {name: value for name, value in fields.items() if value is not _UNSET}


def set_odoo_connection(tenant: Tenant, edit: dict) -> TenantChange:
    """Apply a `clean_connection_edit` (in the caller's transaction, if any).

    Any edit lifts a credentials pause and an outage backoff. An empty
    `api_key` means "keep the current key": the admin never shows it back, so
    a blank field on save is not a request to erase it.
    """
    with transaction.atomic():
        return _set_odoo_connection(tenant, **edit)


def _set_odoo_connection(
    tenant: Tenant,
    *,
    url=_UNSET,
    db=_UNSET,
    login=_UNSET,
    api_key=_UNSET,
    protocol=_UNSET,
    company=_UNSET,
    companies=_UNSET,
) -> TenantChange:
    """`company`: an Odoo company id or None; `companies`: what Odoo said of the login's
    companies when the form checked them (`{"name": ..., "list": [...]}`), kept for the admin."""
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    was_enabled = tenant.is_sync_enabled
    was_odoo = tenant.odoo_database
    changed = []
    if companies is not _UNSET:
        tenant.odoo_company_name = (companies.get("name") or "")[:200]
        tenant.odoo_companies = companies.get("list") or []
    company = clean_company_id(company) if company is not _UNSET else _UNSET
    if company is not _UNSET and company != tenant.odoo_company_id:
        tenant.odoo_company_id = company
        changed.append("odoo_company_id")
        if companies is _UNSET:
            tenant.odoo_company_name = ""  # not known until Odoo is asked
    if url is not _UNSET:
        tenant.odoo_url = url
        changed.append("odoo_url")
    if db is not _UNSET:
        tenant.odoo_db = clean_odoo_db(db)
        changed.append("odoo_db")
    if login is not _UNSET:
        tenant.odoo_login = clean_odoo_login(login)
        changed.append("odoo_login")
    if api_key is not _UNSET and (api_key or "").strip():
        tenant.odoo_api_key = clean_api_key(api_key)
        changed.append("odoo_api_key")
    if protocol is not _UNSET:
        if protocol not in OdooProtocol.values:
            raise ValidationError({"odoo_protocol": f"Unknown protocol {protocol!r}."})
        tenant.odoo_protocol = protocol
        changed.append("odoo_protocol")
    if companies is _UNSET and {"odoo_url", "odoo_db", "odoo_login"} & set(changed):
        tenant.odoo_company_name, tenant.odoo_companies = "", []  # another login's, or Odoo's
    if not changed:
        if companies is not _UNSET:
            tenant.save(update_fields=["odoo_company_name", "odoo_companies", "updated_at"])
        return TenantChange(tenant)
    _refuse_a_shared_company(tenant)
    tenant.odoo_paused_at = None
    tenant.odoo_paused_reason = ""
    tenant.odoo_unreachable_since = None
    tenant.odoo_outage_failures = 0
    tenant.odoo_next_attempt_at = None
    tenant.odoo_last_error = ""
    tenant.odoo_server_version = ""  # detect again: it may be another Odoo now
    tenant.odoo_last_contact_at = None
    tenant.odoo_detected_protocol = ""
    tenant.odoo_uid = tenant.odoo_uid_revision = None  # log in again: it may be another user
    tenant.odoo_connection_revision += 1
    tenant.save()
    return TenantChange(
        tenant,
        became_sync_enabled=tenant.is_sync_enabled and not was_enabled,
        moved_odoo=tenant.odoo_database != was_odoo,
    )


# --- admin support -------------------------------------------------------------

# Holds the model permissions tenant staff need to see the admin (created by
# migration cafe 0002); which rows they see is scoped by cafe.access.
TENANT_STAFF_GROUP = "Tenant staff"
TENANT_STAFF_PERMISSIONS = [
    ("cafe", "view_tenant"),
    ("cafe", "change_tenant"),
    ("registers", "view_posconfig"),
    ("registers", "add_posconfig"),
    ("registers", "change_posconfig"),
    ("odoo_sync", "view_syncattempt"),
]


def _tenant_staff_group():
    """The group, recreated with its default rights if it is missing (an operator may edit them)."""
    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    group, created = Group.objects.get_or_create(name=TENANT_STAFF_GROUP)
    if created:
        wanted = Q()
        for app_label, codename in TENANT_STAFF_PERMISSIONS:
            wanted |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(wanted))
    return group


@transaction.atomic
def archive_tenant(tenant: Tenant) -> Tenant:
    """Stop syncing the tenant and keep everything it has (registers, history); idempotent.

    Archived tenants are not `with_odoo`: no tick, drain, audit or metric takes
    them, whatever their plan and connection say.
    """
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if tenant.archived_at is None:
            tenant.archived_at = timezone.now()
            tenant.save(update_fields=["archived_at", "updated_at"])
        return tenant


def restore_tenant(tenant: Tenant) -> TenantChange:
    """Undo `archive_tenant` (in the caller's transaction, if any): the tenant may sync again."""
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        was_enabled = tenant.is_sync_enabled
        if tenant.archived_at is not None:
            tenant.archived_at = None
            tenant.save(update_fields=["archived_at", "updated_at"])
        return TenantChange(tenant, became_sync_enabled=tenant.is_sync_enabled and not was_enabled)


def rename_tenant(tenant: Tenant, *, name: str) -> Tenant:
    name = clean_tenant_name(name)
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    if tenant.name != name:
        tenant.name = name
        tenant.save(update_fields=["name", "updated_at"])
    return tenant


def clean_username(username: str, *, user_id: int | None = None) -> str:
    """A staff login: a name's rules, and it may not look like another user's."""
    from django.contrib.auth import get_user_model

    users = get_user_model()
    limit = users._meta.get_field(users.USERNAME_FIELD).max_length
    username = text.clean_name(username, field="username", what="The username", max_length=limit)
    others = users._default_manager.exclude(pk=user_id).values_list(users.USERNAME_FIELD, flat=True)
    for other in others.iterator():
        if other.lower() != username.lower() and text.looks_alike(username, other):
            raise ValidationError(
                {"username": f"{username!r} looks like the user {other!r}; choose another."}
            )
    return username


def clean_person_name(value: str, *, field: str) -> str:
    what = "The first name" if field == "first_name" else "The last name"
    return text.clean_name(value, field=field, what=what, max_length=150, required=False)


def clean_group_name(name: str) -> str:
    return text.clean_name(name, field="name", what="The group name", max_length=150)


@transaction.atomic
def grant_tenant_access(*, user, tenant: Tenant) -> Membership:
    """Make `user` staff of `tenant`: a membership, admin login, and the staff group's rights."""
    membership, _ = Membership.objects.get_or_create(user=user, tenant=tenant)
    user.groups.add(_tenant_staff_group())
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return membership


@transaction.atomic
def add_tenant_staff(*, tenant: Tenant, username: str, email: str, password: str) -> Membership:
    """Create a staff login and make it staff of `tenant`, in one step (one transaction)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.validators import validate_email

    users = get_user_model()
    username = clean_username(username)
    if users._default_manager.filter(**{f"{users.USERNAME_FIELD}__iexact": username}).exists():
        raise ValidationError({"new_username": f"A user named {username!r} already exists."})
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"new_email": f"{email!r} is not an e-mail address."}) from None
    user = users(**{users.USERNAME_FIELD: username}, email=email, is_staff=True)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from None
    user.set_password(password)
    user.save()
    return grant_tenant_access(user=user, tenant=tenant)


@transaction.atomic
def revoke_tenant_access(membership: Membership) -> None:
    """End a membership; a user left with no tenant loses the staff group's rights."""
    from django.contrib.auth.models import Group

    user = membership.user
    membership.delete()
    if not Membership.objects.filter(user=user).exists():
        user.groups.remove(*Group.objects.filter(name=TENANT_STAFF_GROUP))
