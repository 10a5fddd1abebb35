"""Hostile values in every flag of every regsync management command: one line, exit non-zero.

The commands are discovered (every command of the project's apps) and so are
their flags that take a value; only a command's minimal valid arguments are
listed here, and a command missing from the list fails the test.
"""

import subprocess
import sys

import pytest
from django.core.management import execute_from_command_line, get_commands, load_command_class

from tests.walk import HUGE, hostile_values, make_world, snapshot

# manage.py closes the database connections when a command ends: no test transaction survives.
pytestmark = pytest.mark.django_db(transaction=True)

PROJECT_APPS = {"cafe", "registers", "odoo_sync"}
# What each command needs besides the flag under test to get past its own parser.
VALID_ARGS = {"odoo_sync": ["--status"], "seed_demo": [], "reencrypt_secrets": ["--check"]}
# Commands whose flags are all switches: nothing to feed a hostile value to.
SWITCHES_ONLY = {"odoo_sync", "reencrypt_secrets"}


def project_commands() -> dict[str, str]:
    return {name: app for name, app in get_commands().items() if app in PROJECT_APPS}


def value_flags(app: str, name: str) -> list[str]:
    """The long options of a command that take a value (not Django's own)."""
    parser = load_command_class(app, name).create_parser("manage.py", name)
    django_own = {"--settings", "--pythonpath", "--verbosity"}
    return [
        action.option_strings[-1]
        for action in parser._actions
        if action.option_strings
        and action.nargs != 0
        and action.option_strings[-1].startswith("--")
        and action.option_strings[-1] not in django_own
    ]


def hostile_flag_values(world) -> dict[str, str]:
    return {
        **hostile_values(world.acme.slug),
        "huge": "x" * HUGE,
        # What a shell hands Python for bytes that are not UTF-8 (surrogateescape).
        "bad_utf8": b"\xff\xfeacme".decode("utf-8", "surrogateescape"),
    }


@pytest.fixture(autouse=True)
def _demo_settings(settings):
    settings.DEMO_ADMIN_PASSWORD = "demo-pass"
    settings.ODOO_ALLOW_PRIVATE_URLS = True
    settings.ODOO_REQUIRE_HTTPS = False


def test_every_command_flag_refuses_hostile_values_in_one_line_with_a_non_zero_exit(capsys):
    world = make_world()
    commands = project_commands()
    assert set(commands) == set(VALID_ARGS), "add the new command's valid arguments"
    failures, runs = [], 0
    for name, app in sorted(commands.items()):
        flags = value_flags(app, name)
        assert flags or name in SWITCHES_ONLY, f"{name} has no flag with a value?"
        for flag in flags:
            for kind, value in hostile_flag_values(world).items():
                runs += 1
                before = snapshot()
                with pytest.raises(SystemExit) as exit_:
                    execute_from_command_line(["manage.py", name, *VALID_ARGS[name], flag, value])
                out, err = capsys.readouterr()
                lines = err.strip().splitlines()
                where = f"{name} {flag}={kind}"
                if exit_.value.code in (0, None):
                    failures.append(f"{where}: exit 0, stdout {out[:200]!r}")
                if len(lines) != 1 or "Traceback" in err:
                    failures.append(f"{where}: stderr {err[:300]!r}")
                if snapshot() != before:
                    failures.append(f"{where}: wrote to the database")
    assert not failures, f"{len(failures)} failures in {runs} runs:\n  " + "\n  ".join(failures)
    assert runs >= 2 * 13


def test_undecodable_flag_bytes_through_manage_py_are_one_line_and_exit_2(child_env):
    """The real process once: argv bytes that are not UTF-8, as a shell passes them."""
    proc = subprocess.run(
        [sys.executable, "manage.py", "odoo_sync", "--status", "--tenant", b"\xff\xfeacme"],
        env=child_env,
        capture_output=True,
        timeout=60,
    )
    err = proc.stderr.decode(errors="replace").strip()
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert err == "CommandError: --tenant has characters that could not be read (not valid UTF-8)."
