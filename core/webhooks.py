"""Webhook essentials shared by the API (registration) and the delivery activity: Standard
Webhooks secrets and signatures, the events an endpoint can subscribe to, and which target
URLs are refused.

Standard Webhooks (standardwebhooks.com): the secret is `whsec_` + base64 of the key; each
request carries `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature:
v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`.
"""

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
from enum import StrEnum
from urllib.parse import urlsplit

from core.enums import TERMINAL_STATUSES

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # 256-bit keys, as the HMAC-SHA256 block asks for at least
EVENT_PREFIX = "job."


class WebhookEvent(StrEnum):
    """What an endpoint subscribes to: a job reaching a terminal status (`job.<status>`)."""

    SUCCEEDED = "job.succeeded"
    PARTIALLY_SUCCEEDED = "job.partially_succeeded"
    FAILED = "job.failed"
    CANCELLED = "job.cancelled"


# One event per terminal status, named after it (the outbox trigger builds the names so).
assert {e.value for e in WebhookEvent} == {EVENT_PREFIX + s for s in TERMINAL_STATUSES}
SCHEMES = ("http", "https")


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The key inside a `whsec_` secret (ValueError if it is not base64)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }


class RefusedTarget(ValueError):
    """A URL webhooks must not call: not http(s), or a private/loopback/link-local host."""


def _refused(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def check_target(url: str, allow_private: bool) -> None:
    """Raise RefusedTarget unless `url` is http(s) and (unless `allow_private`) every
    address its host resolves to is public."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise RefusedTarget(f"a webhook URL must be http(s) with a host, not {url!r}")
    if allow_private:
        return
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, parts.port or 0, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError) as err:
        raise RefusedTarget(f"the host of {url!r} does not resolve: {err}") from err
    refused = sorted({str(info[4][0]) for info in found if _refused(str(info[4][0]))})
    if refused:
        raise RefusedTarget(
            f"{parts.hostname} resolves to a private, loopback or link-local address "
            f"({', '.join(refused)}); such targets are refused unless "
            "DOCKET_WEBHOOKS_ALLOW_PRIVATE=true"
        )
