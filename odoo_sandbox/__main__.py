"""`python -m odoo_sandbox --port 8169`: run a sandbox Odoo in the foreground.

Its API key comes from the environment (SANDBOX_API_KEY), never the command
line, where `ps` would show it to every user of the machine.
"""

import argparse
import logging
import os
import sys

from .costs import PROFILES
from .server import SandboxServer
from .state import DEFAULT_API_KEY, DEFAULT_DB, DEFAULT_LOGIN, DEFAULT_VERSION, parse_version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m odoo_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("SANDBOX_PORT") or 8169),
        help="default $SANDBOX_PORT or 8169 (not 8069, Odoo's own); 0 picks a free port",
    )
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--login", default=DEFAULT_LOGIN)
    parser.add_argument("--version", default=DEFAULT_VERSION, help="17.0, 18.0, 19.0 (or 16.0)")
    parser.add_argument("--seed-demo", action="store_true", help='create "Shop" and "Bar"')
    parser.add_argument(
        "--connection-close",
        action="store_true",
        help="answer Connection: close like Odoo's own server (default: keep-alive)",
    )
    parser.add_argument(
        "--costs",
        choices=PROFILES,
        default="none",
        help="real: each call takes as long as on a real Odoo (docs/performance.md); "
        "none (default): no delay of its own",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    try:
        parse_version(args.version)
    except ValueError as exc:
        parser.error(str(exc))

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        server = SandboxServer(
            args.host,
            args.port,
            verbose=args.verbose,
            version=args.version,
            db=args.db,
            login=args.login,
            api_key=os.environ.get("SANDBOX_API_KEY") or DEFAULT_API_KEY,
            keep_alive=not args.connection_close,
            seed_demo=args.seed_demo,
            costs=args.costs,
        )
    except OSError as exc:
        print(
            f"odoo sandbox: cannot listen on {args.host}:{args.port} ({exc.strerror}); "
            "set SANDBOX_PORT (or --port) to a free port",
            file=sys.stderr,
        )
        return 1
    print(
        f"odoo sandbox {args.version} listening on {server.url} (db={args.db} login={args.login}"
        + (f", costs {args.costs}" if args.costs != "none" else "")
        + ")",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
