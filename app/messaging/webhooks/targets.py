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


def _internal(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


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
    except (OSError, TimeoutError) as error:
        raise WebhookUrlNotAllowed(f"the host {host!r} does not resolve") from error
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_target(settings: Settings, url: str) -> None:
    """Raises `WebhookUrlNotAllowed` unless this deployment may send requests to `url`."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise WebhookUrlNotAllowed("the URL must be http(s) with a host")
    if parts.username or parts.password:
        raise WebhookUrlNotAllowed("credentials do not belong in a webhook URL")
    if settings.webhooks_may_reach_private_networks:
        return
    if parts.scheme != "https":
        raise WebhookUrlNotAllowed("webhook URLs must use https")
    for address in await _addresses(parts.hostname):
        if _internal(address):
            raise WebhookUrlNotAllowed(f"{parts.hostname} is an internal address ({address})")
