"""Pytest fixtures for the sandbox Odoo (load with `pytest_plugins = [...]` in conftest.py).

- `odoo_sandbox`: a fresh 17.0 sandbox per test (one server for the session,
  reset before and after each test); `odoo_sandbox.reset(version="19.0")`
  switches version.
- `odoo_sandbox_any_version`: the same, run once on 17.0 and once on 19.0.
- `odoo_sandbox_factory`: more independent sandboxes (another tenant's Odoo),
  each on its own port, stopped after the test.
- `odoo_unreachable_url`: a loopback URL where nothing listens.
"""

from __future__ import annotations

import socket

import pytest

from .control import Sandbox
from .server import SandboxServer


@pytest.fixture(scope="session")
def odoo_sandbox_server():
    server = SandboxServer("127.0.0.1", 0).start()
    yield server
    server.stop()


@pytest.fixture
def odoo_sandbox(odoo_sandbox_server) -> Sandbox:
    sandbox = Sandbox(odoo_sandbox_server.url).reset()
    yield sandbox
    # wakes any call still parked on an injected delay, so it cannot leak
    sandbox.reset()


@pytest.fixture(params=["17.0", "19.0"])
def odoo_sandbox_any_version(request, odoo_sandbox) -> Sandbox:
    return odoo_sandbox.reset(version=request.param)


@pytest.fixture
def odoo_sandbox_factory():
    servers: list[SandboxServer] = []

    def make(version: str = "17.0", **options) -> Sandbox:
        server = SandboxServer("127.0.0.1", 0).start()
        servers.append(server)
        return Sandbox(server.url).reset(version=version, **options)

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def odoo_unreachable_url() -> str:
    """A port that was just free: connecting is refused (nothing was sent)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
