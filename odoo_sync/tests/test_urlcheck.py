"""Tenant-supplied Odoo URLs: shape, scheme and where they point."""

import re

import pytest

from odoo_client.urlcheck import OdooUrlError, check_odoo_url, site_key


def public(host, port):
    return ["203.0.113.10"] if host != "acme.odoo.com" else ["34.90.10.1"]


def check(url, *, allow_private=False, require_https=True, resolve=public):
    return check_odoo_url(
        url, allow_private=allow_private, require_https=require_https, resolve=resolve
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://acme.odoo.com", "https://acme.odoo.com"),
        ("https://acme.odoo.com/", "https://acme.odoo.com"),
        ("  HTTPS://Acme.Odoo.com/  ", "https://acme.odoo.com"),
        ("https://acme.odoo.com:8443", "https://acme.odoo.com:8443"),
        ("https://8.8.8.8", "https://8.8.8.8"),
        ("https://[2001:4860:4860::8888]:443", "https://[2001:4860:4860::8888]:443"),
    ],
)
def test_public_https_urls_are_normalised(url, expected):
    assert check(url, resolve=lambda h, p: ["34.90.10.1"]) == expected


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("", "empty"),
        ("ftp://acme.odoo.com", "not ftp://"),
        ("file:///etc/passwd", "not file://"),
        ("acme.odoo.com", "Start the Odoo URL with https://"),
        ("http://acme.odoo.com", "must use https"),
        ("https://user:pw@acme.odoo.com", "user name or password"),
        ("https://acme.odoo.com/web#action=12", "fragment"),
        ("https://acme.odoo.com/?db=x", "query"),
        ("https://acme.odoo.com/odoo", "path"),
        ("https://acme.odoo.com:99999", "malformed"),
        ("https://", "no host"),
    ],
)
def test_malformed_or_insecure_urls_say_what_is_wrong(url, fragment):
    with pytest.raises(OdooUrlError, match=re.escape(fragment)):
        check(url)


def test_where_http_is_accepted_the_message_says_so():
    with pytest.raises(OdooUrlError) as exc:
        check("acme.odoo.com:8069", require_https=False)
    assert str(exc.value) == (
        "Start the Odoo URL with https:// (or http:// on a local network), "
        "e.g. https://yourcafe.odoo.com."
    )


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("[::1]", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.5", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("[fe80::1]", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[::ffff:10.0.0.1]", "private"),
        ("2130706433", "loopback"),
        ("0x7f000001", "loopback"),
        ("127.1", "loopback"),
        ("[fc00::1]", "private"),
    ],
)
def test_non_public_addresses_are_refused(host, kind):
    with pytest.raises(OdooUrlError, match=kind):
        check(f"https://{host}", resolve=None)


def test_names_resolving_to_private_addresses_are_refused():
    with pytest.raises(OdooUrlError, match=r"'odoo.internal' resolves to 10\.0\.0\.7, a private"):
        check("https://odoo.internal", resolve=lambda h, p: ["34.90.10.1", "10.0.0.7"])


def test_resolver_gets_host_and_default_port():
    seen = []
    check("https://acme.odoo.com", resolve=lambda h, p: seen.append((h, p)) or ["34.90.10.1"])
    check(
        "http://acme.odoo.com:8069",
        require_https=False,
        resolve=lambda h, p: seen.append((h, p)) or ["34.90.10.1"],
    )
    assert seen == [("acme.odoo.com", 443), ("acme.odoo.com", 8069)]


def test_unresolvable_host_is_an_error():
    def fail(host, port):
        raise OSError("Name or service not known")

    with pytest.raises(OdooUrlError, match=r"Cannot resolve host 'nowhere\.invalid'"):
        check("https://nowhere.invalid", resolve=fail)
    with pytest.raises(OdooUrlError, match="Cannot resolve"):
        check("https://nowhere.invalid", resolve=lambda h, p: [])


def test_allow_private_accepts_loopback_over_http_for_tests_and_demo():
    url = check_odoo_url("http://127.0.0.1:8069/", allow_private=True, require_https=False)
    assert url == "http://127.0.0.1:8069"
    assert (
        check("http://localhost:8069", allow_private=True, require_https=False, resolve=None)
        == "http://localhost:8069"
    )


def test_default_resolver_really_resolves_localhost():
    with pytest.raises(OdooUrlError, match="loopback"):
        check_odoo_url("https://localhost", allow_private=False, require_https=True)


def test_error_is_a_value_error():
    assert issubclass(OdooUrlError, ValueError)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("34.90.10.1", None),
        ("2001:4860:4860::8888", None),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("10.0.3.7", "private"),
        ("fe80::1%eth0", "link-local"),
        ("::ffff:127.0.0.1", "loopback (embedded in ::ffff:7f00:1)"),
    ],
)
def test_why_not_public_judges_the_address_a_connection_reached(address, why):
    from odoo_client.urlcheck import why_not_public

    assert why_not_public(address) == why


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://acme.odoo.com", "https://acme.odoo.com"),
        ("  HTTPS://Acme.Odoo.com:443/ ", "https://acme.odoo.com"),
        ("https://acme.odoo.com.", "https://acme.odoo.com"),
        ("https://acme.odoo.com:8443/", "https://acme.odoo.com:8443"),
        ("http://acme.odoo.com:80", "http://acme.odoo.com"),
        ("http://acme.odoo.com:443", "http://acme.odoo.com:443"),  # 443 is not http's default
        ("https://[2001:db8::1]:443", "https://[2001:db8::1]"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://acme.odoo.com:port", "https://acme.odoo.com:port"),  # unreadable: as typed
    ],
)
def test_site_key_ignores_what_does_not_change_the_server(url, key):
    assert site_key(url) == key
