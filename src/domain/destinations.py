"""Where Auditrail may send data: http(s) URLs on public addresses (unless the operator
allows private ones).

A tenant who could point a stream at ``http://169.254.169.254/`` or an internal admin port
would make the server a proxy into its own network (SSRF). The URL is checked when it is
saved, and - because a name can resolve elsewhere later (DNS rebinding) - every address is
checked again when a connection is made (``address_refusal``, used by the HTTP adapter).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from domain.errors import FieldError, ValidationFailed
from domain.json_rules import CONTROL_CHARACTERS

URL_MAX_LENGTH = 2048
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_refusal(address: IpAddress) -> str | None:
    """Why a connection to ``address`` is refused, or None when it is a public address.

    IPv6 forms that carry an IPv4 address (mapped, 6to4, Teredo, NAT64) are judged by the
    address they carry: ``::ffff:127.0.0.1`` is the loopback interface.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_refusal(embedded)
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def checked_url(url: object, field: str, allow_private: bool) -> str:
    """An http(s) URL fit to send to, or ``ValidationFailed`` naming ``field``.

    Credentials in the URL are refused: they would be shown back in every response and
    log, where the stream's write-only secret is not.
    """
    if not isinstance(url, str) or not url.strip():
        raise _invalid(field, "A URL is required.")
    url = url.strip()
    if len(url) > URL_MAX_LENGTH:
        raise _invalid(field, f"At most {URL_MAX_LENGTH} characters.")
    if CONTROL_CHARACTERS.search(url) or " " in url:
        raise _invalid(field, "Must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _invalid(field, "Not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise _invalid(field, "Must be an http:// or https:// URL.")
    if not parts.hostname:
        raise _invalid(field, "Must name a host.")
    if parts.username is not None or parts.password is not None:
        raise _invalid(field, "Must not carry credentials; put them in the stream's "
                              "secret, token or api_key instead.")
    if parts.fragment:
        raise _invalid(field, "Must not have a #fragment (it is never sent).")
    if port == 0:
        raise _invalid(field, "Port 0 is not a port one can connect to.")
    if not allow_private:
        refusal = host_refusal(parts.hostname)
        if refusal is not None:
            raise _invalid(field, f"Points at {refusal}; only public destinations are "
                                  f"allowed.")
    return url


def host_refusal(host: str) -> str | None:
    """Why a host named in a URL is refused before any lookup, or None: a literal address
    is judged as it stands, and names that always mean this machine are refused too."""
    try:
        return address_refusal(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return "a loopback address"
    return None


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field, message)])
