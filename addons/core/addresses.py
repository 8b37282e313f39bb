"""Whether an address is this machine's loopback: one answer for the exposure check (where the proxy
listens), the guard (whom a client may reach) and the control API (who may call it)."""

from __future__ import annotations

import ipaddress


def ip_of(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as written (brackets, scope and IPv4-mapping undone), or None for a name."""
    try:
        addr = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    return (addr.ipv4_mapped or addr) if addr.version == 6 else addr


def is_loopback(host: str) -> bool:
    """A host as given on the command line: localhost or a loopback address (a name other than
    localhost may resolve anywhere)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    addr = ip_of(host)
    return addr is not None and addr.is_loopback


def loopback_peer(peer) -> bool:
    """Whether a connection's peer (host, port, ...) is on this machine's loopback."""
    addr = ip_of(peer[0]) if peer else None
    return addr is not None and addr.is_loopback
