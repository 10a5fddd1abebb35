"""A protocol-faithful stand-in for a tenant's Odoo, for tests, benchmarks and the demo."""

from .control import Sandbox, SandboxControlError
from .server import SandboxServer
from .state import DEFAULT_API_KEY, DEFAULT_DB, DEFAULT_LOGIN, DEFAULT_VERSION

SandboxControl = Sandbox

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_DB",
    "DEFAULT_LOGIN",
    "DEFAULT_VERSION",
    "Sandbox",
    "SandboxControl",
    "SandboxControlError",
    "SandboxServer",
]
