"""A sandbox Odoo "behind TLS, far away": a TLS front and a network delay, in one process.

    python bench/_netdelay.py --upstream 127.0.0.1:8169 --rtt-ms 0 25 --cert-dir DIR

prints one JSON line: {"cert": <certificate file to trust>, "urls": {"0": "https://...",
"25": "https://..."}}, then serves until killed. Each URL's listener delays every
byte by half the round trip each way, and a new connection's first bytes by one
round trip more (the TCP handshake), then hands the bytes, still encrypted, to
the TLS front, which decrypts them for the plain-HTTP sandbox. So a TLS
handshake costs its real round trips, as it would over a network, and nothing
on this machine's loopback (shared with other work) is slowed down.

Runs in its own process, so its CPU is never counted as the client's.
"""

import argparse
import asyncio
import json
import ssl
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from odoo_sandbox.tls import self_signed_certificate


async def _forward(reader, writer, *, delay: float, not_before: float) -> None:
    """Copy bytes, each chunk leaving `delay` after it arrived (never before `not_before`)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    async def read() -> None:
        while True:
            try:
                data = await reader.read(65536)
            except (ConnectionError, OSError):
                data = b""
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                return

    async def write() -> None:
        try:
            while True:
                due, data = await queue.get()
                wait = max(due, not_before) - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    await asyncio.gather(read(), write())


def _relay(target: tuple[str, int], rtt: float):
    async def handle(client_reader, client_writer) -> None:
        accepted = asyncio.get_running_loop().time()
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            # The client's first bytes cross after the handshake's round trip.
            _forward(client_reader, up_writer, delay=rtt / 2, not_before=accepted + rtt),
            _forward(up_reader, client_writer, delay=rtt / 2, not_before=0.0),
        )

    return handle


async def serve(upstream: tuple[str, int], rtts_ms: list[float], folder: Path) -> None:
    cert, key = self_signed_certificate(folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    front = await asyncio.start_server(_relay(upstream, 0.0), "127.0.0.1", 0, ssl=context)
    front_port = front.sockets[0].getsockname()[1]
    urls, servers = {}, [front]
    for rtt_ms in rtts_ms:
        server = await asyncio.start_server(
            _relay(("127.0.0.1", front_port), rtt_ms / 1000), "127.0.0.1", 0
        )
        servers.append(server)
        urls[f"{rtt_ms:g}"] = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    print(json.dumps({"cert": cert, "urls": urls}), flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="host:port of the plain-HTTP sandbox")
    parser.add_argument("--rtt-ms", type=float, nargs="+", default=[0.0])
    parser.add_argument("--cert-dir", required=True, help="where the certificate is written")
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    try:
        asyncio.run(serve((host, int(port)), args.rtt_ms, Path(args.cert_dir)))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
