"""Hostile input to the admin: every page of every registered model, every form, every field.

What must hold (docs/reliability.md, "Hostile input"): never a 500; a refused
post shows a clear message and writes nothing; the only hostile values a form
may take are those that are ordinary text for that field (SQL metacharacters
in a name, an empty optional field), and those are stored exactly as typed.
"""

import pytest
from django.db import transaction
from django.urls import reverse

from tests.walk import (
    BODY_KINDS,
    HOSTILE_IDS,
    HUGE,
    admin_request,
    bad_utf8_body,
    browser_data,
    changelist,
    client_for,
    custom_urls,
    diff,
    form_of,
    hostile_values,
    make_world,
    registered_admins,
    snapshot,
    url_name,
    visible_object,
    walked_fields,
)

pytestmark = pytest.mark.django_db

USERS = ["operator", "staff"]

# Fields people read as a name: a look-alike of another's, markup or an
# invisible character there misleads whoever reads it, so all are refused.
NAME_FIELDS = {"name", "username", "first_name", "last_name"}
# Hashed, never shown: any text is a valid password; Django's validators judge them.
OPAQUE_SECRETS = {"password1", "password2"}
# Ordinary text in a field that is not a name: stored exactly as typed is right.
VERBATIM_OUTSIDE_NAMES = {"sql", "html", "xml", "homoglyph"}


@pytest.fixture(autouse=True)
def _loopback_odoo_allowed(settings):
    settings.ODOO_ALLOW_PRIVATE_URLS = True
    settings.ODOO_REQUIRE_HTTPS = False


@pytest.fixture
def world():
    return make_world()


def valid_add(world, label: str) -> dict:
    """A post each add form accepts: the walk changes one field of it at a time."""
    return {
        "auth.Group": {"name": "Baristas"},
        "auth.User": {
            "username": "newbie",
            "password1": "correct horse battery 9",
            "password2": "correct horse battery 9",
            "usable_password": "true",
        },
        "cafe.Tenant": {
            "name": "Delta Cafe",
            "slug": "delta",
            "plan": "starter",
            "odoo_protocol": "auto",
        },
        "cafe.Membership": {"user": str(world.loner.pk), "tenant": str(world.bean.pk)},
        "registers.PosConfig": {
            "tenant": str(world.acme.pk),
            "name": "New till",
            "sequence_prefix": "NT",
        },
    }[label]


def existing_name(world, label: str, field_name: str, obj) -> str:
    """A value another row already has, to post a look-alike of."""
    if label == "registers.PosConfig":
        return next(r.name for r in (world.main_bar, world.terrace) if r != obj)
    if label == "cafe.Tenant" and field_name == "name":
        return world.bean.name if obj == world.acme else world.acme.name
    if field_name == "username":
        return world.operator.username
    return "admin"


class Walk:
    """Counts requests and collects every failure, so one run names them all."""

    def __init__(self):
        self.requests = 0
        self.failures: list[str] = []

    def fail(self, what: str) -> None:
        self.failures.append(what)

    def get(self, client, url, data=None, **extra):
        self.requests += 1
        response = client.get(url, data, **extra)
        if response.status_code >= 500:
            self.fail(f"GET {url} {data or ''} -> {response.status_code}")
        return response

    def post(self, client, url, data=None, **extra):
        self.requests += 1
        return client.post(url, data, **extra)

    def report(self) -> str:
        shown = "\n  ".join(self.failures[:300])
        more = len(self.failures) - 300
        return f"{len(self.failures)} failures in {self.requests} requests:\n  {shown}" + (
            f"\n  ... and {more} more" if more > 0 else ""
        )


def page_urls(model, model_admin, obj):
    yield reverse(url_name(model, "add"))
    if obj is not None:
        for view in ("change", "history", "delete"):
            yield reverse(url_name(model, view), args=[obj.pk])


def with_id(url_name_: str, object_id: str) -> str:
    return reverse(url_name_, args=["OBJECTID"]).replace("OBJECTID", object_id)


# --- every page, as an operator and as tenant staff -------------------------------------------


@pytest.mark.parametrize("who", USERS)
def test_every_admin_page_of_every_model_opens_without_a_500(world, who):
    user = world.users[who]
    client = client_for(user)
    walk = Walk()
    walk.get(client, reverse("admin:index"))
    for model, model_admin in registered_admins():
        label = model._meta.label
        walk.get(client, reverse("admin:app_list", args=[model._meta.app_label]))
        listing = changelist(model)
        response = walk.get(client, listing)
        obj = visible_object(model_admin, user)
        request = admin_request(user)
        if model_admin.has_view_or_change_permission(request) and response.status_code != 200:
            walk.fail(f"{label} changelist -> {response.status_code} for {who}")
        for value in [*hostile_values(str(obj or "Main bar")).values(), "x" * 10_000]:
            walk.get(client, listing, {"q": value})
        for query in ["o=abc", "o=99.-3", "p=-1", "p=abc", "e=1", "no__such__field=1", "q=%FF%FE"]:
            walk.get(client, f"{listing}?{query}")
        for url in page_urls(model, model_admin, obj):
            response = walk.get(client, url)
            if (
                obj is not None
                and "/change/" in url
                and model_admin.has_view_or_change_permission(request, obj)
                and response.status_code != 200
            ):
                walk.fail(f"{label} change page of {obj.pk} -> {response.status_code} for {who}")
        for bad in HOSTILE_IDS:
            for view in ("change", "history", "delete"):
                walk.get(client, with_id(url_name(model, view), bad))
        for name, takes_id in custom_urls(model, model_admin):
            urls = [with_id(f"admin:{name}", str(obj.pk))] if takes_id and obj else []
            urls += [with_id(f"admin:{name}", bad) for bad in HOSTILE_IDS] if takes_id else []
            urls += [] if takes_id else [reverse(f"admin:{name}")]
            for url in urls:
                walk.get(client, url)
                response = walk.post(client, url, {"next": "https://evil.example/"})
                if response.status_code >= 500:
                    walk.fail(f"POST {url} -> {response.status_code}")
                elif response.status_code in (301, 302) and "evil.example" in response["Location"]:
                    walk.fail(f"POST {url} redirected off-site")
    assert not walk.failures, walk.report()
    assert walk.requests > 300


@pytest.mark.parametrize("who", USERS)
def test_an_over_long_search_gets_a_message_on_every_list_never_a_database_error(world, who):
    """SQLite refuses a LIKE pattern over 50,000 bytes: the list says why it searched nothing."""
    from cafe.admin_base import MAX_SEARCH_LENGTH

    client = client_for(world.users[who])
    lists = 0
    for model, model_admin in registered_admins():
        if not model_admin.search_fields:
            continue
        response = client.get(changelist(model), {"q": "x y " * 20_000}, follow=True)
        if response.status_code == 403:
            continue
        lists += 1
        assert response.status_code == 200, model._meta.label
        text = response.content.decode()
        assert f"Searches are at most {MAX_SEARCH_LENGTH} characters" in text, model._meta.label
        # A search at the limit is still a search: no message.
        response = client.get(changelist(model), {"q": "x" * MAX_SEARCH_LENGTH})
        assert response.status_code == 200
        assert "Searches are at most" not in response.content.decode(), model._meta.label
    assert lists >= (6 if who == "operator" else 3)


# --- every form, every field, every hostile value ----------------------------------------------


def form_pages(world, user):
    """(label, url, baseline post, the row edited or None) for each form `user` can open."""
    client = client_for(user)
    for model, model_admin in registered_admins():
        label = model._meta.label
        add = reverse(url_name(model, "add"))
        response = client.get(add)
        if response.status_code == 200:
            data = browser_data(form_of(response))
            data.update(valid_add(world, label))
            yield label, add, data, None, form_of(response)
        obj = visible_object(model_admin, user)
        if obj is None:
            continue
        urls = [reverse(url_name(model, "change"), args=[obj.pk])]
        urls += [
            with_id(f"admin:{n}", str(obj.pk))
            for n, takes_id in custom_urls(model, model_admin)
            if takes_id
        ]
        for url in urls:
            response = client.get(url)
            form = form_of(response) if response.status_code == 200 else None
            if form is not None and walked_fields(form):
                data = browser_data(form)
                if url.endswith("/password/"):
                    data.update(valid_add(world, label), usable_password="true")
                    data.pop("username")
                yield label, url, data, obj, form


def action_forms(world, user):
    """Admin actions that ask for input on an intermediate page (e.g. Rename)."""
    client = client_for(user)
    for model, model_admin in registered_admins():
        obj = visible_object(model_admin, user)
        if obj is None:
            continue
        for action in model_admin.get_actions(admin_request(user)):
            data = {"action": action, "_selected_action": [str(obj.pk)]}
            response = client.post(changelist(model), data)
            form = response.context.get("form") if response.context else None
            if response.status_code == 200 and form is not None:
                data.update(browser_data(form), confirm="1")
                yield model._meta.label, changelist(model), data, obj, form


def shows_a_message(response) -> bool:
    body = response.content.decode(errors="replace")
    if response.status_code in (400, 413):
        return "regsync-error" in body
    messages = [str(m) for m in response.context["messages"]] if response.context else []
    return "errorlist" in body or "errornote" in body or bool(messages)


def judge(walk, *, where, kind, field_name, field, value, before, after, response):
    status = response.status_code
    if status >= 500:
        walk.fail(f"{where}: {status}")
        return
    written = diff(before, after)
    if status in (301, 302) and "/login/" in response["Location"]:
        walk.fail(f"{where}: logged the user out")
        return
    if status in (301, 302):
        stored = any(value in map(str, row) for rows in after.values() for row in rows)
        if field_name in OPAQUE_SECRETS:
            return
        if kind == "empty" and not field.required:
            return
        if kind == "sql" or (kind in VERBATIM_OUTSIDE_NAMES and field_name not in NAME_FIELDS):
            if not stored and written:
                walk.fail(f"{where}: accepted but not stored as typed ({written})")
            return
        walk.fail(f"{where}: accepted ({'; '.join(written) or 'nothing written'})")
        return
    if written:
        walk.fail(f"{where}: refused with {status} but wrote {written}")
    if not shows_a_message(response):
        walk.fail(f"{where}: refused with {status} and no message")


def stay_logged_in(client, user, response) -> None:
    # A saved password form cycles the session key; the rollback then loses the new session.
    if response.status_code in (301, 302):
        client.force_login(user)


def post_hostile(walk, client, url, data, *, field_name, kind, value):
    if kind == "huge":
        return walk.post(client, url, {**data, field_name: "x" * HUGE})
    if kind in ("bad_utf8", "bad_utf8_raw"):
        body = bad_utf8_body(data, field_name, percent_encoded=kind == "bad_utf8")
        return walk.post(client, url, body, content_type="application/x-www-form-urlencoded")
    return walk.post(client, url, {**data, field_name: value})


@pytest.mark.parametrize("who", USERS)
def test_every_admin_form_refuses_hostile_values_with_a_message_and_writes_nothing(world, who):
    user = world.users[who]
    client = client_for(user)
    walk = Walk()
    forms_walked = fields_walked = 0
    for label, url, data, obj, form in [*form_pages(world, user), *action_forms(world, user)]:
        forms_walked += 1
        # The baseline must be accepted, or every hostile post is refused for the wrong reason.
        with transaction.atomic():
            response = walk.post(client, url, data)
            if response.status_code not in (301, 302) and "errorlist" in response.content.decode():
                walk.fail(f"{label} {url}: the valid baseline was refused")
            transaction.set_rollback(True)
        stay_logged_in(client, user, response)
        for field_name, field in walked_fields(form):
            fields_walked += 1
            values = hostile_values(existing_name(world, label, field_name, obj))
            for kind in [*values, *BODY_KINDS]:
                value = values.get(kind, "")
                where = f"{label} {url} {field_name}={kind}"
                with transaction.atomic():
                    before = snapshot()
                    response = post_hostile(
                        walk, client, url, data, field_name=field_name, kind=kind, value=value
                    )
                    after = snapshot()
                    transaction.set_rollback(True)
                stay_logged_in(client, user, response)
                judge(
                    walk,
                    where=where,
                    kind=kind,
                    field_name=field_name,
                    field=field,
                    value=value,
                    before=before,
                    after=after,
                    response=response,
                )
    assert not walk.failures, walk.report()
    assert forms_walked >= (7 if who == "operator" else 3)
    print(f"{who}: {forms_walked} forms, {fields_walked} fields, {walk.requests} requests")


# --- the pages a refused request gets ------------------------------------------------------------


def test_a_10_mb_form_gets_a_413_page_saying_nothing_was_saved(world):
    add = reverse(url_name(world.main_bar.__class__, "add"))
    data = {"tenant": world.acme.pk, "name": "x" * HUGE, "sequence_prefix": "NT"}
    response = client_for(world.operator).post(add, data)
    page = response.content.decode()
    assert response.status_code == 413
    assert "This form was too large" in page
    assert "Nothing was saved" in page
    assert "2.5\xa0MB" in page


def test_a_form_body_that_is_not_utf8_gets_a_400_page_not_latin1_mojibake(world):
    change = reverse(url_name(world.main_bar.__class__, "change"), args=[world.main_bar.pk])
    body = b"name=Caf\xe9&sequence_prefix=MB&revision=0&is_active=on"
    response = client_for(world.operator).post(
        change, body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "The form was not sent as UTF-8." in response.content.decode()
    world.main_bar.refresh_from_db()
    assert world.main_bar.name == "Main bar"


def test_sync_attempt_page_is_a_read_only_log_for_staff(world):
    attempt = world.terrace.sync_attempts.get()
    url = reverse("admin:odoo_sync_syncattempt_change", args=[attempt.pk])
    response = client_for(world.staff).get(url)
    assert response.status_code == 200
    assert not response.context["adminform"].form.fields
    assert "Odoo unreachable" in response.content.decode()
