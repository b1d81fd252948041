"""Pure helpers about URLs and addresses that several layers need (no app imports)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

MAX_ADDRESS_LENGTH = 254


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_uri(uri: str | None) -> bool:
    """True for ``http(s)://localhost:PORT/...``-style URIs (TikTok's desktop rule)."""
    if not uri:
        return False
    return is_loopback_host(urlsplit(uri).hostname or "")


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: str  # "ssl" (smtps://) or "starttls" (smtp://)
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never the password
        return f"SmtpServer({self.tls}://{self.host}:{self.port})"


def parse_smtp_url(url: str) -> SmtpServer:
    """``smtp://[user:pass@]host[:587]`` or ``smtps://[user:pass@]host[:465]``; ValueError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("scheme must be smtp or smtps")
    if not parts.hostname:
        raise ValueError("a host is missing")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("the port is not a number from 1 to 65535") from exc
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("no path, query or fragment is allowed")
    tls = "ssl" if parts.scheme == "smtps" else "starttls"
    return SmtpServer(host=parts.hostname, port=port or (465 if tls == "ssl" else 587), tls=tls,
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password else None)


def valid_address(address: str) -> bool:
    """A plain ``local@domain`` address, without display name, spaces or line breaks."""
    if not address or len(address) > MAX_ADDRESS_LENGTH or address != address.strip():
        return False
    if any(c in address for c in " \t\r\n<>,;\"'()[]\\") or any(ord(c) < 32 for c in address):
        return False
    name, parsed = parseaddr(address)
    local, _, domain = parsed.rpartition("@")
    return (parsed == address and not name and bool(local) and "." in domain
            and not domain.startswith(".") and not domain.endswith(".") and ".." not in domain)
