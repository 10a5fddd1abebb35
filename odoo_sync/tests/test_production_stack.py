"""Production's shape, for real: gunicorn, a prefork worker and beat, DEBUG off, JSON logs.

Each process is started with `scripts/serve ROLE`, the commands docs/deploy.md's
systemd units and compose file run. The test is an operator and a load
balancer over HTTP: it logs in through the admin's login form (CSRF and all),
renames a register on its change form, and sees the name land in the sandbox
Odoo. Behind the TLS proxy that production has, requests say
`X-Forwarded-Proto: https`, so the secure-cookie and HTTPS-redirect settings
stay as in production.

The second test runs two beats at once (a mistake docs/deploy.md warns about,
but one that must not hurt): each edit is written to Odoo once.
"""

import json
import re
import secrets
import socket
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from prometheus_client.parser import text_string_to_metric_families

from cafe.tests.factories import OperatorFactory, tenant_on
from odoo_sync.tests.harness import Processes, fresh_broker
from registers import services
from registers.models import PosConfig, SyncState

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

API_KEY = "prod-stack-odoo-key-9d3e71b0c4"
PASSWORD = "a-long-operator-password-for-the-stack"
METRICS_TOKEN = "prod-stack-metrics-token-0c9a"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def procs(child_env, tmp_path):
    fresh_broker()
    processes = Processes(child_env, tmp_path, settings.BASE_DIR)
    yield processes
    processes.stop_all()
    print(processes.tail())


def _production_env(tmp_path) -> dict[str, str]:
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "METRICS_TOKEN": METRICS_TOKEN,
        "STATIC_ROOT": str(tmp_path / "static"),
        "BEAT_SCHEDULE": str(tmp_path / "beat-schedule"),
        "SYNC_TICK_SECONDS": "1",
        "SYNC_PUSH_ON_COMMIT": "true",
        "ODOO_REQUIRE_HTTPS": "false",  # the sandbox Odoo speaks plain HTTP
        "WORKER_CONCURRENCY": "2",
        "WEB_WORKERS": "2",
    }


class FormFields(HTMLParser):
    """The named inputs, selects and textareas of a page's forms, as a browser would post them."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields[name] = a.get("value") or ("on" if a.get("type") == "checkbox" else "")
        elif tag == "select" and name:
            self._select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data


class Browser:
    """HTTP as a browser behind the TLS proxy: cookies kept by hand (they are Secure)."""

    def __init__(self, base: str):
        self.base = base
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {
            "X-Forwarded-Proto": "https",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            **kwargs.pop("headers", {}),
        }
        if method == "POST":
            origin = "https://" + self.base.split("://", 1)[1]
            headers.update(Origin=origin, Referer=origin + path)
        response = requests.request(
            method, self.base + path, headers=headers, allow_redirects=False, timeout=20, **kwargs
        )
        self.cookies.update(response.cookies.get_dict())
        return response

    def form(self, path: str) -> dict[str, str]:
        response = self.request("GET", path)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        parser = FormFields()
        parser.feed(response.text)
        return parser.fields


def _start_stack(procs: Processes, env: dict[str, str]) -> str:
    port = _free_port()
    env = {**env, "WEB_BIND": f"127.0.0.1:{port}"}
    release = procs.serve("release", env=env)
    assert release.wait(timeout=120) == 0, procs.log("release")
    procs.serve("web", env=env)
    procs.serve("worker", env=env)
    procs.serve("beat", env=env)
    base = f"http://127.0.0.1:{port}"

    def web_up():
        if procs.running["web"].poll() is not None:
            raise AssertionError(procs.log("web"))
        try:
            return requests.get(base + "/healthz", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or its workers still booting
            return False

    from odoo_sync.tests.harness import wait_until

    wait_until(web_up, timeout=60, interval=0.1, what="gunicorn answering /healthz")
    procs.wait_ready("worker")
    return base


def test_an_admin_rename_travels_through_gunicorn_worker_and_beat_to_odoo(
    procs, tmp_path, odoo_sandbox, wait_until
):
    odoo_sandbox.rotate_key(API_KEY)
    tenant = tenant_on(odoo_sandbox)
    reg = services.add_register(tenant, name="Bar", prefix="BAR")
    operator = OperatorFactory(username="ops-operator")
    # Production's hasher (the test process hashes with MD5, which production does not accept).
    operator.password = PBKDF2PasswordHasher().encode(PASSWORD, "stacksalt", iterations=1000)
    operator.save()
    base = _start_stack(procs, _production_env(tmp_path))

    # Beat's tick creates the register in Odoo; the health checks turn green.
    wait_until(lambda: PosConfig.objects.get(pk=reg.pk).sync_state == SyncState.SYNCED, timeout=30)
    for path in ("/healthz", "/healthz/beat", "/healthz/worker"):
        wait_until(lambda p=path: requests.get(base + p, timeout=5).status_code == 200, timeout=20)
        assert json.loads(requests.get(base + path, timeout=5).text)["status"] == "ok"

    # The operator logs in through the login form...
    browser = Browser(base)
    assert browser.request("GET", "/admin/").status_code == 302
    login = browser.form("/admin/login/?next=/admin/")
    login.update(username="ops-operator", password=PASSWORD)
    response = browser.request("POST", "/admin/login/?next=/admin/", data=login)
    assert response.status_code == 302, response.text[:2000]
    assert browser.request("GET", "/admin/").headers["Location"].endswith("/odoo_sync/overview/")
    home = browser.request("GET", "/admin/odoo_sync/overview/")
    assert home.status_code == 200 and "ops-operator" in home.text
    # ...the admin renders with its static files (DEBUG is off: whitenoise serves them)...
    [css] = re.findall(r'href="(/static/admin/css/base[^"]*\.css)"', home.text)
    assert browser.request("GET", css).status_code == 200

    # ...and renames the register on its change form.
    change = f"/admin/registers/posconfig/{reg.pk}/change/"
    fields = browser.form(change)
    assert fields["name"] == "Bar"
    fields.update(name="Bar on the Terrace", _save="Save")
    response = browser.request("POST", change, data=fields)
    assert response.status_code == 302, response.text[:3000]

    def in_odoo():  # and recorded as such (the worker records once Odoo answered)
        row = PosConfig.objects.get(pk=reg.pk)
        if row.sync_state != SyncState.SYNCED or row.name != "Bar on the Terrace":
            return False
        return odoo_sandbox.pos_config(row.odoo_pos_config_id)["name"] == row.name

    wait_until(in_odoo, timeout=30, what="the rename in Odoo")
    assert len(odoo_sandbox.pos_configs()) == 1

    # Prometheus' view of it.
    scraped = requests.get(
        base + "/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}", "X-Forwarded-Proto": "https"},
        timeout=10,
    )
    assert scraped.status_code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    synced = (("action", "update"), ("outcome", "synced"))
    assert samples[("regsync_sync_attempts_total", synced)] >= 1
    assert samples[("regsync_registers", (("state", "synced"), ("tenant", tenant.slug)))] == 1

    # Every process logged JSON lines, and no line holds the Odoo key.
    procs.stop_all()
    for name, log in procs.logs.items():
        text = Path(log).read_text(errors="replace")
        assert API_KEY not in text, name
        if name in ("worker", "beat"):
            lines = [line for line in text.splitlines() if line.startswith("{")]
            assert lines and all(json.loads(line)["level"] for line in lines), name
    worker_log = procs.logs["worker"].read_text()
    assert f'"tenant": "{tenant.slug}"' in worker_log
    assert '"correlation_id": "drain-' in worker_log


def test_two_beats_at_once_write_each_edit_once(procs, tmp_path, odoo_sandbox, wait_until):
    """Two beat processes tick every second, both enqueueing drains of the one tenant."""
    env = {**_production_env(tmp_path), "SYNC_PUSH_ON_COMMIT": "false"}
    tenant = tenant_on(odoo_sandbox)
    regs = [services.add_register(tenant, name=f"Till {n}", prefix=f"T{n}") for n in range(3)]
    procs.serve("worker", env=env)
    procs.serve("beat", "beat-1", env={**env, "BEAT_SCHEDULE": str(tmp_path / "s1")})
    procs.serve("beat", "beat-2", env={**env, "BEAT_SCHEDULE": str(tmp_path / "s2")})
    procs.wait_ready("worker")

    def all_in_odoo(suffix: str):
        def check():
            names = {(c["name"], c["active"]) for c in odoo_sandbox.pos_configs()}
            rows = PosConfig.objects.filter(tenant=tenant, sync_state=SyncState.SYNCED)
            return rows.count() == 3 and names == {(f"Till {n}{suffix}", True) for n in range(3)}

        return check

    wait_until(all_in_odoo(""), timeout=30, what="the creates")
    for round_ in (" (a)", " (b)"):
        for n, reg in enumerate(regs):
            reg.refresh_from_db()
            services.rename_register(reg, name=f"Till {n}{round_}")
        wait_until(all_in_odoo(round_), timeout=30, what=f"renames {round_}")
    # Several ticks of each beat went by while the edits were written.
    for beat in ("beat-1", "beat-2"):
        wait_until(
            lambda b=beat: procs.log(b).count("Sending due task odoo-sync-tick") >= 3,
            timeout=10,
        )

    mutations = odoo_sandbox.mutations()
    per_record: dict[int, list[str]] = {}
    for record_id, via, _name, _active in mutations:
        per_record.setdefault(record_id, []).append(via)
    assert len(odoo_sandbox.pos_configs()) == 3  # no duplicate pos.config
    # Each register: created once, then one write per edit (a `write`, or a `load` by
    # database id when renames of several registers went in one call).
    assert len(per_record) == 3, mutations
    for vias in per_record.values():
        assert vias[0] == "create" and len(vias) == 3, mutations
        assert set(vias[1:]) <= {"write", "load"}, mutations
    # The tenant's lock held: never two drains in Odoo at once.
    assert odoo_sandbox.max_concurrent_sessions() == 1
