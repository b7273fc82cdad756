"""`X-Forwarded-For`, honoured only from the proxies named in `APP_TRUSTED_PROXIES` (addresses or networks).

The client address (used by the per-address login throttle and the logs) is the connecting peer, unless that
peer is a trusted proxy: then it is the right-most address of `X-Forwarded-For` that is not itself a trusted
proxy. Empty by default, so no header moves the address. uvicorn's own proxy handling is switched off
(server/cli.py) so this is the only place that reads the header."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip()]


def _trusted(address: str, networks: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | None, networks: list[Network]) -> str | None:
    if peer is None or not networks or not forwarded_for or not _trusted(peer, networks):
        return peer
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        if not hop:
            continue
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed chain: keep the peer we know
        if not _trusted(hop, networks):
            return hop
    return peer


class TrustedProxies:
    def __init__(self, app: ASGIApp, *, proxies: Iterable[str]) -> None:
        self.app = app
        self.networks = parse_networks(proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.networks and scope["type"] in ("http", "websocket") and scope.get("client"):
            headers = dict(scope.get("headers") or [])
            forwarded = headers.get(b"x-forwarded-for")
            peer_host, peer_port = scope["client"]
            host = client_address(peer_host, forwarded.decode("latin-1") if forwarded else None, self.networks)
            if host != peer_host:
                scope = {**scope, "client": (host, peer_port)}
        await self.app(scope, receive, send)
