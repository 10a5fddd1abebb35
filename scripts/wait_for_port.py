"""Wait until a TCP port accepts connections (so the demo worker starts after its Odoo)."""

import socket
import sys
import time

host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3] if len(sys.argv) > 3 else 30)
deadline = time.monotonic() + timeout
while True:
    try:
        socket.create_connection((host, port), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"{host}:{port} did not come up within {timeout:.0f}s")
        time.sleep(0.2)
