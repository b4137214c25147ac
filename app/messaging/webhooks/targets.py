"""Where outgoing webhook requests may go (SSRF guard).

Internal addresses — private, loopback, link-local (cloud metadata at 169.254.169.254),
shared, reserved, multicast — are refused unless the deployment allows them (development
does, so a local receiver works). Host names are resolved and every address checked, at
registration and again before each request, since DNS can change in between.
"""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from app.config import Settings
from app.messaging.webhooks.exceptions import WebhookUrlNotAllowed

RESOLVE_TIMEOUT_SECONDS = 3.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches through (mapped, 6to4, Teredo, NAT64 or the
    old IPv4-compatible form), which is what an attacker would use to disguise 10.0.0.1."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or int(address) >> 32 == 0:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _internal(address: IPAddress) -> bool:
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            candidates.append(embedded)
    return any(not a.is_global or a.is_multicast for a in candidates)


async def _addresses(host: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_SECONDS
        )
    except (OSError, TimeoutError, UnicodeError) as error:  # UnicodeError: a bad IDNA name
        raise WebhookUrlNotAllowed(f"the host {host!r} does not resolve") from error
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_target(settings: Settings, url: str) -> list[IPAddress]:
    """Raises `WebhookUrlNotAllowed` unless this deployment may send requests to `url`;
    returns the vetted addresses to connect to (none to check where internal ones are
    allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise WebhookUrlNotAllowed("the URL must be http(s) with a host")
    if parts.username or parts.password:
        raise WebhookUrlNotAllowed("credentials do not belong in a webhook URL")
    if settings.webhooks_may_reach_private_networks:
        return []
    if parts.scheme != "https":
        raise WebhookUrlNotAllowed("webhook URLs must use https")
    addresses = await _addresses(parts.hostname)
    for address in addresses:
        if _internal(address):
            raise WebhookUrlNotAllowed(f"{parts.hostname} is an internal address ({address})")
    return addresses
