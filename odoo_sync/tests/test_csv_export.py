"""Registers and sync attempts as CSV: the list as filtered, scoped to the user, spreadsheet-safe."""

import csv
import io

import pytest
from django.urls import reverse

from cafe.csv_export import spreadsheet_safe
from cafe.tests.clients import logged_in
from cafe.tests.factories import TenantFactory, TenantStaffFactory
from odoo_sync.tests.test_admin import make_attempt
from registers.models import SyncState
from registers.tests.factories import PosConfigFactory

pytestmark = pytest.mark.django_db

REGISTERS = reverse("admin:registers_posconfig_changelist")
REGISTERS_CSV = reverse("admin:registers_posconfig_export")
ATTEMPTS_CSV = reverse("admin:odoo_sync_syncattempt_export")


def rows_of(response) -> list[dict]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("Bar = 1", "Bar = 1"),
        (12, "12"),
        (None, ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_escaped(cell, written):
    assert spreadsheet_safe(cell) == written


def test_the_registers_csv_is_the_filtered_list_the_user_sees_and_escapes_formulas():
    acme = TenantFactory(pro=True, name="Acme Coffee")
    PosConfigFactory(tenant=acme, name="Bar", sequence_prefix="BAR", pushed=True)
    PosConfigFactory(
        tenant=acme,
        name="=cmd|' /C calc'!A0",
        sequence_prefix="EVIL",
        sync_state=SyncState.SYNC_ERROR,
        last_sync_error="-Odoo said no",
    )
    PosConfigFactory(tenant=TenantFactory(pro=True, name="Harbour"), name="Bar 2")
    staff = TenantStaffFactory(tenants=[acme])
    client = logged_in(staff)

    everything = rows_of(client.get(REGISTERS_CSV))
    assert sorted(r["name"] for r in everything) == ["'=cmd|' /C calc'!A0", "Bar"]
    evil = next(r for r in everything if r["sequence prefix"] == "EVIL")
    assert (evil["tenant"], evil["sync state"], evil["last error"]) == (
        "Acme Coffee",
        "Sync error",
        "'-Odoo said no",
    )
    filtered = rows_of(client.get(REGISTERS_CSV, {"sync_state__exact": "sync_error"}))
    assert [r["sequence prefix"] for r in filtered] == ["EVIL"]
    assert [r["name"] for r in rows_of(client.get(REGISTERS_CSV, {"q": "bar"}))] == ["Bar"]
    # The list links to the export with its own filters and search.
    page = client.get(REGISTERS, {"q": "bar"}).content.decode()
    assert f'href="{REGISTERS_CSV}?q=bar"' in page


def test_the_sync_attempts_csv_is_scoped_to_the_users_tenants():
    mine = PosConfigFactory(pushed=True, name="Bar")
    make_attempt(mine, error="@evil", duration_ms=42)
    make_attempt(PosConfigFactory(pushed=True, name="Not theirs"))
    staff = TenantStaffFactory(tenants=[mine.tenant])
    [row] = rows_of(logged_in(staff).get(ATTEMPTS_CSV))
    assert (row["register"], row["outcome"], row["Odoo took (ms)"], row["error"]) == (
        "Bar",
        "Synced",
        "42",
        "'@evil",
    )


def test_a_bad_filter_goes_back_to_the_list_and_a_stranger_gets_the_login_page(operator):
    response = logged_in(operator).get(REGISTERS_CSV, {"no_such_field": "1"})
    assert response.status_code == 302
    assert response["Location"] == f"{REGISTERS}?e=1"
    from django.test import Client

    assert reverse("admin:login") in Client().get(REGISTERS_CSV)["Location"]
