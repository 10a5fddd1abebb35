"""`make run`'s first step: each port it needs is free, or one line saying which is taken and how to pick another."""

import socket
import sys

# name=port pairs, e.g. WEB_PORT=8000 SANDBOX_PORT=8169
for pair in sys.argv[1:]:
    name, _, port = pair.partition("=")
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", int(port)))
        except OSError:
            sys.exit(
                f"make run: port {port} is already in use (another Odoo or web server?); "
                f"choose a free one, e.g. `{name}={int(port) + 1} make run`"
            )
