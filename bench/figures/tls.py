"""OdooClient's kept session against a new TLS connection per call, behind a delay."""

import json
import ssl
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from contextlib import contextmanager

from .harness import ROOT, Bench, r


@contextmanager
def tls_front(sandbox, rtts_ms: list[float]):
    """bench/_netdelay.py in front of the sandbox: {rtt: https url}, and the cert to trust."""
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as folder:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "_netdelay.py"),
                "--upstream",
                sandbox.url.split("//", 1)[1],
                "--cert-dir",
                folder,
                "--rtt-ms",
                *[f"{x:g}" for x in rtts_ms],
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            info = json.loads(proc.stdout.readline())
            yield info["urls"], info["cert"]
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _kept_session(sandbox, url: str, cert: str, odoo_id: int, calls: int) -> tuple[float, int]:
    """OdooClient's calls per second (its session keeps one connection), and the uid."""
    from odoo_client.client import OdooClient

    with OdooClient(url, sandbox.db, sandbox.login, sandbox.api_key) as client:
        client._session.verify = cert  # trust the bench's own certificate
        uid = client.authenticate()
        started = time.perf_counter()
        for i in range(calls):
            client.write_pos_config(odoo_id, {"name": f"Kept {i}"})
        return calls / (time.perf_counter() - started), uid


def _connection_per_call(sandbox, url, cert: str, uid: int, odoo_id: int, calls: int) -> float:
    """The same calls, each on a new connection and TLS handshake (xmlrpc.client per call)."""
    context = ssl.create_default_context(cafile=cert)
    started = time.perf_counter()
    for i in range(calls):
        with xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", context=context) as proxy:
            proxy.execute_kw(
                sandbox.db,
                uid,
                sandbox.api_key,
                "pos.config",
                "write",
                [[odoo_id], {"name": f"New {i}"}],
            )
    return calls / (time.perf_counter() - started)


def tls(b: Bench) -> dict:
    """OdooClient (one kept session) against a new TLS connection per call, 25 ms away."""
    sz = b.sizes
    s = b.sandbox.reset()
    odoo_id = s.create_pos_config("TLS")
    found = {}
    with tls_front(s, [0, sz.tls_rtt_ms]) as (urls, cert):
        for rtt, url in urls.items():
            kept, uid = _kept_session(s, url, cert, odoo_id, sz.tls_calls)
            fresh = _connection_per_call(s, url, cert, uid, odoo_id, sz.tls_calls)
            found[rtt] = {"kept_calls_per_s": r(kept, 1), "new_connection_calls_per_s": r(fresh, 1)}
            b.say(
                f"  RTT {rtt} ms over TLS: OdooClient {kept:.1f} calls/s "
                f"({1000 / kept:.1f} ms/call), new connection per call {fresh:.1f} calls/s "
                f"({1000 / fresh:.1f} ms/call): {kept / fresh:.2f}x"
                + ("  <- floor of the TLS front, no delay" if rtt == "0" else "")
            )
    s.reset()
    far = found[f"{sz.tls_rtt_ms:g}"]
    ratio = far["kept_calls_per_s"] / far["new_connection_calls_per_s"]
    return b.figure(
        "OdooClient over TLS, kept session vs new connection per call",
        f"{ratio:.2f}x ({far['kept_calls_per_s']:.1f} vs {far['new_connection_calls_per_s']:.1f} "
        "calls/s)",
        f">= 1.5x at {sz.tls_rtt_ms:g} ms RTT",
        ratio >= 1.5,
        calls=sz.tls_calls,
        rtt_ms=sz.tls_rtt_ms,
        by_rtt_ms=found,
        ratio=r(ratio),
    )
