"""OdooClient bound to an Odoo company, against the sandbox's companies over HTTP (issue 25).

Two companies in one sandbox database, one client per company, on 17.0 and 18.0
(XML-RPC) and 19.0 (JSON-2): each sees, finds, creates and writes only its own
company's pos.config, as Odoo's record rules and `allowed_company_ids` make it.
"""

import pytest

from odoo_client.client import OdooClient
from odoo_client.companies import Company, in_company
from odoo_client.errors import (
    OdooAccessError,
    OdooAuthError,
    OdooBatchError,
    OdooCompanyNotAllowedError,
    OdooMovedCompanyError,
    OdooValidationError,
)

VERSIONS = ["17.0", "18.0", "19.0"]
UNAUTHORIZED = "Access to unauthorized or invalid companies."
TOP_SECRET = "Uh-oh! Looks like you have stumbled upon some top-secret records."


@pytest.fixture(params=VERSIONS)
def two_cafes(request, odoo_sandbox):
    """A sandbox of that version whose user may use company 1 (its default) and "Cafe B"."""
    odoo_sandbox.reset(version=request.param)
    cafe_b = odoo_sandbox.add_company("Cafe B")
    odoo_sandbox.set_user_companies([1, cafe_b], default=1)
    return odoo_sandbox, cafe_b


def _client(sandbox, company_id):
    return OdooClient(
        sandbox.url, sandbox.db, sandbox.login, sandbox.api_key, company_id=company_id
    )


def test_each_company_sees_only_its_own_configs_in_reads_and_lookups_by_name(two_cafes):
    sandbox, cafe_b = two_cafes
    shop_a = sandbox.create_pos_config("Shop", company_id=1)
    shop_b = sandbox.create_pos_config("Shop", company_id=cafe_b)
    bar_b = sandbox.create_pos_config("Bar", company_id=cafe_b, active=False)
    with _client(sandbox, 1) as a, _client(sandbox, cafe_b) as b:
        assert [r["id"] for r in a.read_all_pos_configs()] == [shop_a]
        assert [r["id"] for r in b.read_all_pos_configs()] == [shop_b, bar_b]
        assert [r["id"] for r in a.find_pos_configs_by_name(["Shop", "Bar"])["Shop"]] == [shop_a]
        assert a.find_pos_configs_by_name(["Bar"]) == {"Bar": []}
        found_b = b.find_pos_configs_by_name(["Shop", "Bar"])
        assert [r["id"] for r in found_b["Shop"]] == [shop_b]
        assert [r["id"] for r in found_b["Bar"]] == [bar_b]
        rows = b.execute_kw("pos.config", "search_read", [[]], {"fields": ["company_id"]})
        assert rows == [{"id": shop_b, "company_id": [cafe_b, "Cafe B"]}]


def test_name_search_and_sessions_follow_the_company_rules_too(two_cafes):
    sandbox, cafe_b = two_cafes
    shop_a = sandbox.create_pos_config("Shop", company_id=1)
    shop_b = sandbox.create_pos_config("Shop", company_id=cafe_b)
    session_b = sandbox.open_session(shop_b)
    with _client(sandbox, 1) as a, _client(sandbox, cafe_b) as b:
        assert a.execute_kw("pos.config", "name_search", ["Sho"]) == [[shop_a, "Shop"]]
        assert b.execute_kw("pos.config", "name_search", ["Sho"]) == [[shop_b, "Shop"]]
        assert a.execute_kw("pos.session", "search", [[]]) == []
        assert b.execute_kw("pos.session", "search", [[]]) == [session_b]


def test_creates_land_in_the_clients_company_by_create_and_by_load(two_cafes):
    sandbox, cafe_b = two_cafes
    with _client(sandbox, cafe_b) as b:
        one = b.upsert_pos_config(external_id=("regsync", "register_one"), name="Terrace")
        many = b.upsert_pos_configs([("regsync.register_two", "Kiosk", True)])
        made = b.execute_kw("pos.config", "create", [{"name": "Counter"}])
    assert [sandbox.pos_config_company(i) for i in (one, *many, made)] == [cafe_b] * 3
    with _client(sandbox, 1) as a:
        assert a.read_all_pos_configs() == []


def test_writing_the_other_companys_config_is_odoos_record_rule_access_error(two_cafes):
    sandbox, cafe_b = two_cafes
    shop_b = sandbox.create_pos_config("Shop", company_id=cafe_b)
    with _client(sandbox, 1) as a:
        # Odoo's access error, read as what it is: the record is in another company.
        with pytest.raises(OdooMovedCompanyError) as raised:
            a.write_pos_config(shop_b, {"name": "Mine now"})
        assert raised.value.companies == {shop_b: cafe_b}
        with pytest.raises(OdooMovedCompanyError) as shared:
            a.write_pos_configs([shop_b], {"active": False})
        assert shared.value.missing_ids == (shop_b,)
        with pytest.raises(OdooAccessError):
            a.link_pos_config(shop_b, ("regsync", "register_stolen"))
    assert raised.value.message.startswith(
        f"Moved to another company in Odoo: pos.config {shop_b} is in company {cafe_b}"
    )
    text = raised.value.message.split("Odoo said: ", 1)[1]
    assert text.startswith(TOP_SECRET)
    assert "doesn't have 'write' access to:\n- Point of Sale Configuration (pos.config)" in text
    assert text.endswith("by switching to the company: Cafe B.")
    assert sandbox.pos_config(shop_b)["name"] == "Shop"
    assert sandbox.pos_config(shop_b)["active"] is True
    assert sandbox.external_ids() == []


def test_an_update_by_id_of_the_other_companys_config_is_unknown_there(two_cafes):
    """`load` finds `.id` by a search, which the record rule filters: to the other company
    the config does not exist; the client reads where it is and reports it moved."""
    sandbox, cafe_b = two_cafes
    shop_b = sandbox.create_pos_config("Shop", company_id=cafe_b)
    with _client(sandbox, 1) as a, pytest.raises(OdooBatchError) as raised:
        a.update_pos_configs([(shop_b, {"name": "Mine now"})])
    # Confirmed elsewhere (pos_config_companies): moved to company B, not deleted.
    assert raised.value.missing_rows == frozenset()
    assert raised.value.moved_rows == {0: cafe_b}
    assert "Unknown database identifier" in raised.value.failed_rows[0]
    assert sandbox.pos_config(shop_b)["name"] == "Shop"


def test_an_external_id_whose_config_moved_to_another_company_is_refused_not_recreated(
    two_cafes,
):
    sandbox, cafe_b = two_cafes
    with _client(sandbox, 1) as a:
        config = a.upsert_pos_config(external_id=("regsync", "register_moved"), name="Shop")
        sandbox.move_pos_config(config, cafe_b)
        with pytest.raises(OdooValidationError) as raised:
            a.upsert_pos_config(external_id=("regsync", "register_moved"), name="Shop 2")
        # It exists: Odoo's access error, read as moved (never as deleted).
        with pytest.raises(OdooMovedCompanyError):
            a.write_pos_config(config, {"name": "Shop 3"})
        with pytest.raises(OdooMovedCompanyError) as own:  # the drain's write by external id
            a.write_own_pos_config(config, ("regsync", "register_moved"), "Shop 4", True)
    assert own.value.companies == {config: cafe_b}
    assert TOP_SECRET in raised.value.message
    assert [c["id"] for c in sandbox.pos_configs()] == [config]
    assert sandbox.pos_config(config)["name"] == "Shop"
    assert sandbox.pos_config_company(config) == cafe_b


def test_a_config_moved_to_another_company_is_located_there_by_a_bound_client(two_cafes):
    """What tells "moved to another company" from "deleted" (the drift audit's
    `moved_company_in_odoo`): the config is found in the user's other company."""
    sandbox, cafe_b = two_cafes
    elsewhere = sandbox.add_company("Not Yours")
    stays = sandbox.create_pos_config("Shop", company_id=1)
    moved = sandbox.create_pos_config("Bar", company_id=1, active=False)
    hidden = sandbox.create_pos_config("Pub", company_id=1)
    gone = sandbox.create_pos_config("Deli", company_id=1)
    sandbox.move_pos_config(moved, cafe_b)
    sandbox.move_pos_config(hidden, elsewhere)
    sandbox.delete_pos_config(gone)
    with _client(sandbox, 1) as a:
        assert [r["id"] for r in a.read_all_pos_configs()] == [stays]
        assert a.pos_config_companies([stays, moved, hidden, gone]) == {stays: 1, moved: cafe_b}


def test_list_companies_names_the_users_companies_and_its_default(two_cafes):
    sandbox, cafe_b = two_cafes
    cafe_c = sandbox.add_company("Another Cafe")
    sandbox.set_user_companies([1, cafe_b, cafe_c], default=cafe_b)
    with _client(sandbox, None) as client:
        companies = client.list_companies()
    # res.company's order: by name
    assert companies.companies == (
        Company(cafe_c, "Another Cafe"),
        Company(cafe_b, "Cafe B"),
        Company(1, "YourCompany"),
    )
    assert companies.default == Company(cafe_b, "Cafe B")
    assert companies.several
    assert companies.allows(cafe_c) and not companies.allows(99)


def test_list_companies_answers_for_a_client_whose_company_is_not_the_users(two_cafes):
    sandbox, cafe_b = two_cafes
    other = sandbox.add_company("Not Yours")
    with _client(sandbox, other) as client:
        companies = client.list_companies()
    assert [c.id for c in companies.companies] == [cafe_b, 1]
    assert not companies.allows(other)


def test_an_archived_company_is_no_longer_the_users_to_list_or_use(two_cafes):
    sandbox, cafe_b = two_cafes
    sandbox.set_company_active(cafe_b, False)
    with _client(sandbox, None) as client:
        assert [c.id for c in client.list_companies().companies] == [1]
    with _client(sandbox, cafe_b) as b, pytest.raises(OdooCompanyNotAllowedError):
        b.read_all_pos_configs()


@pytest.mark.parametrize("company", ["unknown", "not the user's"])
def test_a_company_the_user_may_not_use_is_a_typed_error_with_odoos_text(two_cafes, company):
    sandbox, _cafe_b = two_cafes
    company_id = 99 if company == "unknown" else sandbox.add_company("Not Yours")
    shop = sandbox.create_pos_config("Shop")
    with _client(sandbox, company_id) as client:
        with pytest.raises(OdooCompanyNotAllowedError) as raised:
            client.read_all_pos_configs()
        with pytest.raises(OdooCompanyNotAllowedError):
            client.upsert_pos_config(external_id=("regsync", "register_x"), name="New")
        with pytest.raises(OdooCompanyNotAllowedError):
            client.write_pos_config(shop, {"name": "Renamed"})
    assert raised.value.message == UNAUTHORIZED
    # A connection problem, not the row's: it pauses the tenant as a rejected key does.
    assert isinstance(raised.value, OdooAuthError)
    assert [(c["id"], c["name"]) for c in sandbox.pos_configs()] == [(shop, "Shop")]


def test_without_a_company_calls_see_all_the_users_companies_and_create_in_its_default(
    two_cafes,
):
    """Odoo's own default, what a tenant saved before issue 25 gets: `env.companies`
    is every company of the user, `env.company` (a new config's) its default one."""
    sandbox, cafe_b = two_cafes
    shop_a = sandbox.create_pos_config("Shop", company_id=1)
    shop_b = sandbox.create_pos_config("Shop", company_id=cafe_b)
    with _client(sandbox, None) as client:
        assert [r["id"] for r in client.read_all_pos_configs()] == [shop_a, shop_b]
        made = client.upsert_pos_config(external_id=("regsync", "register_new"), name="New")
    assert sandbox.pos_config_company(made) == 1


def test_a_database_with_one_company_answers_the_same_with_or_without_the_company(
    odoo_sandbox,
):
    shop = odoo_sandbox.create_pos_config("Shop")
    with _client(odoo_sandbox, None) as plain, _client(odoo_sandbox, 1) as bound:
        assert plain.read_all_pos_configs() == bound.read_all_pos_configs()
        assert plain.find_pos_configs_by_name(["Shop"]) == bound.find_pos_configs_by_name(["Shop"])
        assert [c.id for c in plain.list_companies().companies] == [1]
        assert not plain.list_companies().several
        made = bound.upsert_pos_config(external_id=("regsync", "register_b"), name="Bar")
    assert odoo_sandbox.pos_config_company(shop) == odoo_sandbox.pos_config_company(made) == 1


# --- what Odoo does with the context and the values, called directly ---------------


def test_a_create_in_another_company_than_the_contexts_first_is_refused(two_cafes):
    """The defaults (journal, payment methods) come from `env.company`, the context's
    first company: naming another one in the values alone fails, as the issue found."""
    sandbox, cafe_b = two_cafes
    with _client(sandbox, None) as client:
        with pytest.raises(OdooValidationError) as raised:
            client.execute_kw(
                "pos.config",
                "create",
                [{"name": "Shop", "company_id": cafe_b}],
                {"context": {"allowed_company_ids": [1, cafe_b]}},
            )
        made = client.execute_kw(
            "pos.config",
            "create",
            [{"name": "Shop", "company_id": cafe_b}],
            {"context": {"allowed_company_ids": [cafe_b]}},
        )
    assert raised.value.message == (
        "The payment methods for the point of sale Shop must belong to its company."
    )
    assert sandbox.pos_config_company(made) == cafe_b
    assert [c["id"] for c in sandbox.pos_configs()] == [made]


def test_a_create_in_a_company_outside_the_context_is_the_record_rules_error(two_cafes):
    sandbox, cafe_b = two_cafes
    with _client(sandbox, None) as client:
        # version 17.0 with a context company that has no chart of accounts: no
        # default payment method, so the record rule is what refuses it
        sandbox.set_user_companies([1, cafe_b], default=cafe_b)
        if sandbox.version == "17.0":
            with pytest.raises(OdooAccessError) as raised:
                client.execute_kw(
                    "pos.config",
                    "create",
                    [{"name": "Shop", "company_id": 1}],
                    {"context": {"allowed_company_ids": [cafe_b]}},
                )
            assert "doesn't have 'create' access to" in raised.value.message
        else:  # 18.0 and 19.0 make payment methods in any company: those refuse it first
            with pytest.raises(OdooValidationError):
                client.execute_kw(
                    "pos.config",
                    "create",
                    [{"name": "Shop", "company_id": 1}],
                    {"context": {"allowed_company_ids": [cafe_b]}},
                )
    assert sandbox.pos_configs() == []


def test_a_bad_context_fails_only_calls_whose_rules_read_the_companies(two_cafes):
    sandbox, _cafe_b = two_cafes
    bad = {"context": {"allowed_company_ids": [99]}}
    with _client(sandbox, None) as client:
        client.authenticate()
        # res.users.context_get evaluates no record rule
        assert client.execute_kw("res.users", "context_get", [], bad)["uid"] == 2
        with pytest.raises(OdooCompanyNotAllowedError):
            client.execute_kw("pos.config", "search_count", [[]], bad)
        with pytest.raises(OdooCompanyNotAllowedError):
            client.execute_kw("res.company", "search_read", [[]], {**bad, "fields": ["name"]})


def test_in_company_merges_the_context_and_adds_the_company_to_new_values():
    args, kwargs = in_company(
        7, "pos.config", "load", [["id", "name"], [["x.y", "A"]]], {"context": {"lang": "fr"}}
    )
    assert args == [["id", "name", "company_id/.id"], [["x.y", "A", "7"]]]
    assert kwargs == {"context": {"lang": "fr", "allowed_company_ids": [7]}}
    # an update by database id creates nothing: no company column
    assert in_company(7, "pos.config", "load", [[".id", "name"], [["3", "A"]]], {})[0] == [
        [".id", "name"],
        [["3", "A"]],
    ]
    created, _ = in_company(7, "pos.config", "create", [[{"name": "A"}, {"name": "B"}]], {})
    assert created == [[{"company_id": 7, "name": "A"}, {"company_id": 7, "name": "B"}]]
    _, named = in_company(7, "pos.config", "create", [], {"vals_list": {"name": "A"}})
    assert named["vals_list"] == {"company_id": 7, "name": "A"}
    # another model: the context only; the caller's own allowed companies are replaced
    other = in_company(7, "res.partner", "create", [{"name": "A"}], {"context": {"x": 1}})
    assert other == ([{"name": "A"}], {"context": {"x": 1, "allowed_company_ids": [7]}})
    assert in_company(7, "pos.config", "search", [[]], {"context": {"allowed_company_ids": [1]}})[
        1
    ] == {"context": {"allowed_company_ids": [7]}}


@pytest.mark.parametrize("bad", [0, -1, True, "2", 1.0])
def test_a_company_id_that_is_not_a_positive_int_is_refused_at_once(bad):
    with pytest.raises(ValueError):
        OdooClient("https://odoo.example", "db", "admin", "key", company_id=bad)
