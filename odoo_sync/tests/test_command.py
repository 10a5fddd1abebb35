"""`manage.py odoo_sync`: the operator's try-now and status, with clear errors."""

import json
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command, execute_from_command_line

from odoo_sync import reporting
from registers import services
from registers.tests.factories import PosConfigFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _run(*args):
    out = StringIO()
    try:
        call_command("odoo_sync", *args, stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue()


def test_status_prints_counts_per_state(sandbox_tenant):
    PosConfigFactory(tenant=sandbox_tenant, pending_create=True)
    PosConfigFactory()
    code, out = _run("--status")
    assert code == 0
    assert out.splitlines() == [
        "pos_configs_total = 2",
        "pending_create = 1",
        "pending_update = 0",
        "sync_error = 0",
        "synced = 1",
    ]
    code, out = _run("--status", "--tenant", sandbox_tenant.slug, "--json")
    assert json.loads(out) == {
        "tenant": sandbox_tenant.slug,
        **reporting.status_counts(tenant_id=sandbox_tenant.pk),
    }


def test_once_drains_and_prints_results_and_totals(sandbox_tenant, odoo_sandbox):
    services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    code, out = _run("--once")
    assert code == 0
    assert f"{sandbox_tenant.slug}: ok created=1 " in out
    assert "total: tenants=1 created=1 create_failed=0" in out
    assert len(odoo_sandbox.pos_configs()) == 1


def test_once_json_and_exit_1_when_a_row_failed(sandbox_tenant, odoo_sandbox):
    services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    odoo_sandbox.serialization_failure_next(method="pos.config.load")
    code, out = _run("--once", "--tenant", sandbox_tenant.slug, "--json")
    data = json.loads(out)
    assert code == 1
    assert data["totals"]["create_failed"] == 1
    assert data["tenants"][0]["tenant"] == sandbox_tenant.slug


def test_once_is_a_try_now_that_skips_the_outage_backoff(sandbox_tenant, odoo_sandbox):
    from odoo_sync.drain import drain_tenant

    services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    odoo_sandbox.fail_next(status=503, count=2)
    drain_tenant(sandbox_tenant.pk)
    odoo_sandbox.clear_faults()
    code, out = _run("--once")
    assert code == 0
    assert "created=1" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--once", "--tenant", "no-such-cafe"], "no tenant with slug 'no-such-cafe'"),
        (["--once", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["--status", "--once"], "argument --once: not allowed with argument --status"),
        ([], "one of the arguments --once --status --audit is required"),
    ],
)
def test_user_mistakes_get_one_clear_line_and_exit_2(capsys, args, message):
    # manage.py's own entry point, in this process: the argv path a user takes.
    with pytest.raises(SystemExit) as exc:
        execute_from_command_line(["manage.py", "odoo_sync", *args])
    out, err = capsys.readouterr()
    assert exc.value.code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0]
    assert "Traceback" not in err


def test_a_mistake_through_manage_py_is_one_line_and_exit_2(child_env):
    """The real process once: what a shell sees (exit status, one line on stderr)."""
    proc = subprocess.run(
        [sys.executable, "manage.py", "odoo_sync", "--once", "--frobnicate"],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == "odoo_sync: unrecognized arguments: --frobnicate (see --help)"


def test_once_exits_0_when_a_tenant_is_unreachable_but_no_register_failed(
    sandbox_tenant, odoo_sandbox
):
    services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    odoo_sandbox.fail_next(status=503, count=3)
    code, out = _run("--once")
    assert code == 0
    assert f"{sandbox_tenant.slug}: unreachable " in out
    assert "create_failed=0" in out


class _Terminal(StringIO):
    def isatty(self):
        return True


def _progress_of(*args, stderr=None):
    from cafe.tests.factories import TenantFactory

    for n in range(2):  # two tenants whose Odoo refuses at once: the audit is quick
        TenantFactory(pro=True, slug=f"cafe-{n}", odoo_url="http://127.0.0.1:9")
    err = stderr if stderr is not None else _Terminal()
    try:
        call_command("odoo_sync", *args, stdout=StringIO(), stderr=err)
    except SystemExit:
        pass
    return err.getvalue()


@pytest.fixture(autouse=False)
def loopback(settings):
    settings.ODOO_ALLOW_PRIVATE_URLS = True
    settings.ODOO_REQUIRE_HTTPS = False


def test_long_runs_show_progress_on_a_terminal(loopback):
    assert "Auditing: 100%" in _progress_of("--audit")


def test_no_progress_with_json(loopback):
    assert _progress_of("--audit", "--json") == ""


def test_no_progress_into_a_pipe(loopback):
    assert _progress_of("--audit", stderr=StringIO()) == ""
