"""Sockets for clients and workers: LINGER 0 and CURVE set the same way for both.

Kept apart from `wire` (protocol values, no I/O), as the Swift side keeps BatonWire
apart from ZeroMQ.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import zmq

CurveKeys = Tuple[Optional[bytes], Optional[bytes], Optional[bytes]]


def curve_keys(server_key: Any, public_key: Any, secret_key: Any) -> CurveKeys:
    """CURVE keys as bytes (Z85 text or bytes in): (server, public, secret).

    With a server key but no key pair of its own, a peer gets a fresh pair: the broker
    does not check client keys (spec section 3.5), so any pair will do.
    """
    def as_bytes(key: Any) -> Optional[bytes]:
        if key is None:
            return None
        return key.encode("ascii") if isinstance(key, str) else bytes(key)

    server, public, secret = as_bytes(server_key), as_bytes(public_key), as_bytes(secret_key)
    if server and not (public and secret):
        public, secret = zmq.curve_keypair()
    return server, public, secret


def connect(context: zmq.Context, socket_type: int, endpoint: str, curve: CurveKeys) -> zmq.Socket:
    """A new socket of `socket_type`, LINGER 0 (closing never waits on unsent
    messages), CURVE client options when `curve` has a server key, connected."""
    s = context.socket(socket_type)
    s.setsockopt(zmq.LINGER, 0)
    server, public, secret = curve
    if server:
        s.setsockopt(zmq.CURVE_SERVERKEY, server)
        s.setsockopt(zmq.CURVE_PUBLICKEY, public)
        s.setsockopt(zmq.CURVE_SECRETKEY, secret)
    s.connect(endpoint)
    return s
