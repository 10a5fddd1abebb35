"""The admin walk's pieces: a small world, the users, every registered admin's pages and forms.

Discovery, not a list: every ModelAdmin in `admin.site._registry`, every URL its
`get_urls()` adds, every field of every form it renders. A new admin, form or
field is walked without anyone remembering to add it here; only an add form
needs a valid starting point (`VALID_ADD`), and a missing one fails the walk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from django import forms
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from cafe.tests.factories import OperatorFactory, TenantFactory, TenantStaffFactory, UserFactory
from odoo_sync.models import SyncAttempt
from registers import services
from registers.tests.factories import PosConfigFactory

HUGE = 10 * 1024 * 1024
# Over every length bound, under the upload limit: the form's own rules answer.
LONG = 100_000

# Latin letters and their Cyrillic twins (written as escapes: they look the same).
CYRILLIC = str.maketrans(
    "aeopcxyAEOPCXYBHKMT",
    "\u0430\u0435\u043e\u0440\u0441\u0445\u0443\u0410\u0415\u041e\u0420\u0421"
    "\u0425\u0423\u0412\u041d\u041a\u041c\u0422",
)


def homoglyph_of(text: str) -> str:
    """`text` with its first Latin letter that has a Cyrillic twin swapped for the twin."""
    for i, ch in enumerate(text):
        twin = ch.translate(CYRILLIC)
        if twin != ch:
            return text[:i] + twin + text[i + 1 :]
    return "\u0410cme"


def hostile_values(existing: str) -> dict[str, str]:
    """The values each field is posted with (the body-level ones are in `post_kinds`)."""
    return {
        "empty": "",
        "long": "x" * LONG,
        "nul": "Bar\x00baz",
        "control": "Bar\x07\x1b[31mred",
        "crlf": "Bar\r\nX-Injected: 1",
        "bidi": "Bar\u202egpj.exe",
        "zero_width": "Ba\u200br",
        "sql": "O'Brien\"; DROP TABLE cafe_pos_configs; --",
        "html": "<script>alert(1)</script>",
        "xml": '<![CDATA[x]]><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>&e;',
        "homoglyph": homoglyph_of(existing),
    }


# Whole-request kinds: the value is not a Python string but how the body is built.
BODY_KINDS = ("huge", "bad_utf8", "bad_utf8_raw")
HOSTILE_IDS = ["abc", "0", "-1", "99999999999999999999", "1'--", "%00", "%FF", "<b>"]


@dataclass
class World:
    operator: object
    staff: object
    acme: object
    bean: object
    main_bar: object
    terrace: object
    kiosk: object
    loner: object  # a staff user with no tenant yet: the Membership add form's user
    users: dict = field(default_factory=dict)


def make_world() -> World:
    operator = OperatorFactory(username="operator")
    acme = TenantFactory(pro=True, name="Acme Coffee", slug="acme")
    bean = TenantFactory(name="Bean There", slug="bean")
    staff = TenantStaffFactory(username="barista", tenants=[acme])
    main_bar = PosConfigFactory(
        tenant=acme, name="Main bar", sequence_prefix="MB", odoo_pos_config_id=7
    )
    terrace = PosConfigFactory(
        tenant=acme,
        name="Terrace",
        sequence_prefix="TER",
        odoo_pos_config_id=8,
        sync_state="sync_error",
        sync_retries=5,
        last_sync_error="Odoo unreachable",
        last_sync_error_kind="exhausted",
    )
    PosConfigFactory(tenant=acme, name="Old till", sequence_prefix="OLD", is_active=False)
    kiosk = services.add_register(bean, name="Kiosk", prefix="K1", actor="operator")
    for register, outcome in [(terrace, "dead_lettered"), (main_bar, "synced"), (kiosk, "retry")]:
        SyncAttempt.objects.create(
            tenant=register.tenant,
            register=register,
            action="update",
            outcome=outcome,
            odoo_pos_config_id=register.odoo_pos_config_id,
            duration_ms=12,
            error="" if outcome == "synced" else "Odoo unreachable\nsecond line",
        )
    loner = UserFactory(username="newhire")
    world = World(operator, staff, acme, bean, main_bar, terrace, kiosk, loner)
    world.users = {"operator": operator, "staff": staff}
    return world


def client_for(user) -> Client:
    # A 500 comes back as a response, so one walk reports every failure at once.
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def registered_admins():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def url_name(model, view: str) -> str:
    return f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"


STANDARD_VIEWS = {"changelist", "add", "history", "delete", "change"}


def custom_urls(model, model_admin):
    """The URL names a ModelAdmin adds beyond the standard five, and whether they take an id."""
    standard = {f"{model._meta.app_label}_{model._meta.model_name}_{v}" for v in STANDARD_VIEWS}
    for pattern in model_admin.get_urls():
        name = getattr(pattern, "name", None)
        if name and name not in standard:
            yield name, bool(pattern.pattern.converters)


def admin_request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def visible_object(model_admin, user):
    """A row `user` sees; never their own user row (a new password would log them out)."""
    rows = model_admin.get_queryset(admin_request(user))
    if rows.model is type(user):
        rows = rows.exclude(pk=user.pk)
    return rows.first()


# --- what "nothing was written" compares ------------------------------------------------------


def watched_models():
    """Every model of the project and of auth/admin; sessions change on every login."""
    skip = {"sessions.session", "contenttypes.contenttype"}
    return [m for m in apps.get_models() if m._meta.label_lower not in skip]


def snapshot() -> dict:
    return {
        m._meta.label: list(m._default_manager.order_by("pk").values_list())
        for m in watched_models()
    }


def diff(before: dict, after: dict) -> list[str]:
    return [
        f"{label}: {len(before[label])} -> {len(after[label])} rows"
        if len(before[label]) != len(after[label])
        else f"{label}: a row changed"
        for label in before
        if before[label] != after[label]
    ]


# --- forms as a browser would post them ----------------------------------------------------


def form_of(response):
    adminform = response.context.get("adminform") if response.context else None
    if adminform is not None:
        return adminform.form
    return response.context.get("form") if response.context else None


def browser_data(form) -> dict:
    """The POST a browser sends for `form` as rendered: every editable field, as shown."""
    data = {}
    for bf in form:
        if bf.field.disabled:
            continue
        # The admin wraps related fields' widgets (the "+" link): the input is the inner one.
        widget = getattr(bf.field.widget, "widget", bf.field.widget)
        value = bf.value()
        if isinstance(widget, forms.MultiWidget):
            parts = value if isinstance(value, list | tuple) else widget.decompress(value)
            for suffix, sub, part in zip(widget.widgets_names, widget.widgets, parts, strict=True):
                data[bf.html_name + suffix] = sub.format_value(part) or ""
        elif isinstance(widget, forms.CheckboxInput):
            if value:
                data[bf.html_name] = "on"
        elif getattr(widget, "allow_multiple_selected", False):
            data[bf.html_name] = [str(v) for v in value or []]
        else:
            shown = widget.format_value(value)
            if isinstance(shown, list):  # a Select: its one chosen value
                shown = shown[0] if shown else ""
            data[bf.html_name] = "" if shown is None else str(shown)
    return data


def walked_fields(form) -> list[tuple[str, forms.Field]]:
    """The fields a hostile value is posted into: all but checkboxes (any value is a bool)."""
    out = []
    for bf in form:
        if bf.field.disabled or isinstance(bf.field.widget, forms.CheckboxInput):
            continue
        if isinstance(bf.field.widget, forms.MultiWidget):
            out.append((bf.html_name + bf.field.widget.widgets_names[0], bf.field))
        else:
            out.append((bf.html_name, bf.field))
    return out


def urlencoded(data: dict, *, raw_field: str, raw: bytes) -> bytes:
    """A form body with one field's value given as raw bytes (which need not be UTF-8)."""
    pairs = [
        (key, v)
        for key, value in data.items()
        if key != raw_field
        for v in (value if isinstance(value, list) else [value])
    ]
    encoded = "&".join(f"{quote(k)}={quote(str(v))}" for k, v in pairs)
    return f"{encoded}&{quote(raw_field)}=".encode() + raw


def bad_utf8_body(data: dict, field_name: str, *, percent_encoded: bool) -> bytes:
    bad = b"%FF%FEBar%C3%28" if percent_encoded else b"\xff\xfeBar\xc3\x28"
    return urlencoded(data, raw_field=field_name, raw=bad)


def changelist(model) -> str:
    return reverse(url_name(model, "changelist"))
