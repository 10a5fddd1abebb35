"""Odoo API keys never show in error reports: not in locals, not in posted form data."""

import sys
import uuid

import pytest
from django.urls import reverse
from django.views.debug import ExceptionReporter

from cafe.tests.clients import logged_in
from cafe.tests.factories import TenantFactory
from odoo_client.client import OdooClient
from odoo_client.errors import OdooError

# Made at run time, so the key is not in this file's source that reports quote.
KEY = f"key-{uuid.uuid4().hex}"


def test_error_report_of_a_failed_odoo_call_never_shows_the_api_key(odoo_unreachable_url):
    client = OdooClient(odoo_unreachable_url, "acme", "sync@acme", KEY, protocol="xmlrpc")
    with pytest.raises(OdooError):
        try:
            client.authenticate()
        except OdooError:
            exc_info = sys.exc_info()
            raise
    html = ExceptionReporter(None, *exc_info).get_traceback_html()
    assert "odoo_client/client.py" in html  # the frames are reported...
    assert KEY not in html  # ...without the key in any of them


@pytest.mark.django_db
def test_the_tenant_form_marks_the_posted_key_sensitive(operator):
    tenant = TenantFactory(pro=True)
    response = logged_in(operator).post(
        reverse("admin:cafe_tenant_change", args=[tenant.pk]), {"new_api_key": KEY}
    )
    assert tuple(response.wsgi_request.sensitive_post_parameters) == ("new_api_key",)
