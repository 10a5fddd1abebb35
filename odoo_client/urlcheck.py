"""Validation of tenant-supplied Odoo URLs (scheme, shape, and where they point)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OdooUrlError(ValueError):
    """The URL cannot be used as a tenant's Odoo; the message says why."""


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({info[4][0] for info in infos})


def check_odoo_url(
    url: str,
    *,
    allow_private: bool,
    require_https: bool,
    resolve: Resolver | None = resolve_host,
) -> str:
    """Return the normalised base URL (`scheme://host[:port]`) or raise `OdooUrlError`.

    `resolve=None` skips the DNS lookup (IP literals are still checked); tests
    pass a callable to pin what a name resolves to.
    """
    raw = (url or "").strip()
    if not raw:
        raise OdooUrlError("The Odoo URL is empty.")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise OdooUrlError(f"The Odoo URL is malformed: {exc}.") from None

    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        allowed = "https://" if require_https else "https:// (or http:// on a local network)"
        example = "https://yourcafe.odoo.com"
        if not parts.scheme or "." in parts.scheme:  # "acme.odoo.com" or "acme.odoo.com:8069"
            raise OdooUrlError(f"Start the Odoo URL with {allowed}, e.g. {example}.")
        raise OdooUrlError(
            f"The Odoo URL must start with {allowed}, not {parts.scheme}://; e.g. {example}."
        )
    if scheme == "http" and require_https:
        raise OdooUrlError("The Odoo URL must use https://, not http://.")
    if parts.username is not None or parts.password is not None:
        raise OdooUrlError(
            "The Odoo URL must not contain a user name or password; "
            "enter the login and API key in their own fields."
        )
    if parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise OdooUrlError(
            "The Odoo URL must not contain a query (?...) or fragment (#...); "
            "use the base URL, e.g. https://mycompany.odoo.com."
        )
    if parts.path not in ("", "/"):
        raise OdooUrlError(
            f"The Odoo URL must not have a path ({parts.path!r}); "
            "use the base URL, e.g. https://mycompany.odoo.com."
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise OdooUrlError("The Odoo URL has no host name.")

    literal = _parse_ip_literal(host)
    if literal is None:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise OdooUrlError(f"The Odoo URL host {host!r} is not a valid host name.") from None

    if not allow_private:
        effective_port = port or (443 if scheme == "https" else 80)
        if literal is not None:
            _check_public(host, [literal], resolved=False)
        elif resolve is not None:
            try:
                found = [
                    ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, effective_port)
                ]
            except (OSError, UnicodeError, ValueError):
                found = []
            if not found:
                raise OdooUrlError(f"Cannot resolve host {host!r}: check the Odoo URL.")
            _check_public(host, found, resolved=True)

    netloc = f"[{host}]" if literal is not None and literal.version == 6 else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}"


_DEFAULT_PORTS = {"http": 80, "https": 443}


def site_key(url: str) -> str:
    """`url` as far as it names a server: scheme and host lowercased (IDNA), the
    default port, a trailing dot and trailing slashes dropped.

    `HTTPS://Acme.odoo.com:443/` and `https://acme.odoo.com` give the same key.
    Never raises: a URL it cannot read is kept as typed (trimmed), equal only
    to itself.
    """
    raw = (url or "").strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
        host = (parts.hostname or "").rstrip(".")
        if _parse_ip_literal(host) is None:
            host = host.encode("idna").decode("ascii").lower()
    except (ValueError, UnicodeError):
        return raw
    scheme = parts.scheme.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def _parse_ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # Decimal, hex, octal and short forms ("2130706433", "0x7f.1", "127.1")
    # reach the same address through the resolver; judge them as such.
    if all(c in "0123456789abcdefxABCDEFX." for c in host) and any(c.isdigit() for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if ip.version != 6:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def why_not_public(ip: IPAddress | str) -> str | None:
    """Why `ip` is not a public address ("loopback", "private", ...), or None when it is.

    The client asks it again of the address each connection actually reached,
    since a name that resolved to a public address when the URL was saved can
    resolve elsewhere later (DNS rebinding).
    """
    if isinstance(ip, str):
        ip = ipaddress.ip_address(ip.split("%", 1)[0])  # an IPv6 zone is not part of it
    inner = _embedded_ipv4(ip)
    if inner is not None:
        why = why_not_public(inner)
        return f"{why} (embedded in {ip})" if why else None
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("non-public", not ip.is_global),
    )
    for name, hit in checks:
        if hit:
            return name
    return None


def not_public_message(
    host: str, ip: IPAddress, why: str, *, resolved: bool, now: bool = False
) -> str:
    """Why `host` is refused: it is, or (`now`) resolves to, `ip`, not a public address."""
    where = f"{'now ' if now else ''}resolves to {ip}, " if resolved else "is "
    article = "an" if why[0] in "aeiou" else "a"
    return (
        f"The Odoo URL host {host!r} {where}{article} {why} address; "
        "only public addresses are allowed."
    )


def is_ip_literal(host: str) -> bool:
    """True when `host` is an IP address written out (any form the resolver accepts)."""
    return _parse_ip_literal(host.strip("[]")) is not None


def _check_public(host: str, addresses: list[IPAddress], *, resolved: bool) -> None:
    for ip in addresses:
        why = why_not_public(ip)
        if why:
            raise OdooUrlError(not_public_message(host, ip, why, resolved=resolved))
