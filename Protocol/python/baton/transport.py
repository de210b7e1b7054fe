"""Sockets for clients and workers: LINGER 0 and CURVE set the same way for both.

Kept apart from `wire` (protocol values, no I/O), as the Swift side keeps BatonWire
apart from ZeroMQ.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Tuple, Union

import zmq
import zmq.auth
from zmq.utils.z85 import Z85CHARS

CurveKeys = Tuple[Optional[bytes], Optional[bytes], Optional[bytes]]
PathOrKey = Union[str, bytes, "os.PathLike[str]", None]

_Z85 = frozenset(Z85CHARS)


def is_z85_key(value: Any) -> bool:
    """Whether ``value`` (str or bytes) is a 40-character Z85 CURVE key."""
    if isinstance(value, str):
        try:
            value = value.encode("ascii")
        except UnicodeEncodeError:
            return False
    return isinstance(value, (bytes, bytearray)) and len(value) == 40 and all(c in _Z85 for c in value)


def load_certificate(path: Union[str, "os.PathLike[str]"]) -> Tuple[bytes, Optional[bytes]]:
    """``(public_key, secret_key)`` of a ZeroMQ CURVE certificate file, as Z85 bytes;
    ``secret_key`` is None for a public certificate (``NAME.key``).

    Reads what czmq's ``zcert``, pyzmq's ``zmq.auth.create_certificates`` and
    ``baton keygen DIR NAME`` write (spec section 3.5), and a file holding just a
    40-character Z85 secret key (older ``baton keygen --out`` files). Raises ``OSError``
    for a file that cannot be read and ``ValueError`` for one that is not a certificate
    or whose secret key does not belong to its public key."""
    with open(path, "rb") as f:
        bare = f.read().strip()
    if is_z85_key(bare):
        return zmq.curve_public(bare), bare
    try:
        public, secret = zmq.auth.load_certificate(path)
    except ValueError:
        raise ValueError(f"{os.fspath(path)} is not a ZeroMQ certificate (no curve public-key)") from None
    if not is_z85_key(public):
        raise ValueError(f"{os.fspath(path)}: public-key is not a 40-character Z85 key")
    if secret is not None and (not is_z85_key(secret) or zmq.curve_public(secret) != public):
        raise ValueError(f"{os.fspath(path)}: secret-key does not belong to its public-key")
    return public, secret


def _as_bytes(key: Any) -> Optional[bytes]:
    if key is None:
        return None
    return key.encode("ascii") if isinstance(key, str) else bytes(key)


def _server_key(curve_server: PathOrKey) -> bytes:
    """The broker's public key from its certificate file, or from the Z85 key itself
    (a file of that name wins: a 40-character file name is possible)."""
    if isinstance(curve_server, (str, os.PathLike)) and os.path.exists(curve_server):
        return load_certificate(curve_server)[0]
    if isinstance(curve_server, (str, bytes)) and is_z85_key(curve_server):
        return curve_server.encode("ascii") if isinstance(curve_server, str) else bytes(curve_server)
    raise ValueError(f"curve_server: {curve_server!r} is neither a certificate file (the broker's NAME.key) "
                     "nor a 40-character Z85 key")


def _own_pair(curve_secret: Union[str, bytes, "os.PathLike[str]"]) -> Tuple[bytes, bytes]:
    path = os.fsdecode(curve_secret)
    public, secret = load_certificate(path)
    if secret is None:
        raise ValueError(f"curve_secret: {path} has no secret-key "
                         "(is it the public .key file? use NAME.key_secret)")
    return public, secret


def curve_keys(server_key: Any = None, public_key: Any = None, secret_key: Any = None, *,
               curve_server: PathOrKey = None, curve_secret: PathOrKey = None) -> CurveKeys:
    """CURVE keys as Z85 bytes: (server, public, secret), or all None for plain tcp.

    The broker's key comes from ``curve_server`` (its ``.key`` file, or Z85) or
    ``server_key`` (Z85); this peer's pair from ``curve_secret`` (its ``.key_secret``
    file) or ``public_key``/``secret_key`` (Z85; the public key is derived when only the
    secret is given). A broker with CURVE admits only keys on its allowlists (spec
    section 3.5), so a server key without a pair of its own is refused here with
    ``ValueError`` (a made-up pair would only ever time out), as is a pair without a
    server key, or the same key given both ways."""
    if curve_server is not None and server_key is not None:
        raise ValueError("give the broker's key once: curve_server or curve_server_key")
    if curve_secret is not None and (public_key is not None or secret_key is not None):
        raise ValueError("give this peer's key pair once: curve_secret or curve_public_key/curve_secret_key")
    server = _server_key(curve_server) if curve_server is not None else _as_bytes(server_key)
    public: Optional[bytes]
    secret: Optional[bytes]
    if curve_secret is not None:
        public, secret = _own_pair(curve_secret)
    else:
        public, secret = _as_bytes(public_key), _as_bytes(secret_key)
        if public is not None and secret is None:
            raise ValueError("curve_public_key needs curve_secret_key")
        if secret is not None:
            if not is_z85_key(secret):
                raise ValueError("curve_secret_key is not a 40-character Z85 key")
            derived = zmq.curve_public(secret)
            if public is not None and public != derived:
                raise ValueError("curve_secret_key does not belong to curve_public_key")
            public = derived
    if server is None:
        if public is not None:
            raise ValueError("a CURVE key pair needs the broker's public key (curve_server)")
        return None, None, None
    if public is None:
        raise ValueError("CURVE needs this peer's own key pair: curve_secret='NAME.key_secret' (make one with "
                         "`baton keygen DIR NAME` or zmq.auth.create_certificates; the broker must list its NAME.key)")
    if not is_z85_key(server):
        raise ValueError("the broker's key is not a 40-character Z85 key")
    return server, public, secret


def connect(context: "zmq.Context[zmq.Socket[bytes]]", socket_type: int, endpoint: str,
            curve: CurveKeys, options: Sequence[Tuple[int, int]] = ()) -> "zmq.Socket[bytes]":
    """A new socket of `socket_type`, LINGER 0 (closing never waits on unsent
    messages), the integer socket `options` given, CURVE client options when `curve`
    has a server key, connected."""
    s: "zmq.Socket[bytes]" = context.socket(socket_type)
    s.setsockopt(zmq.LINGER, 0)
    for option, value in options:
        s.setsockopt(option, value)
    server, public, secret = curve
    if server and public and secret:
        s.setsockopt(zmq.CURVE_SERVERKEY, server)
        s.setsockopt(zmq.CURVE_PUBLICKEY, public)
        s.setsockopt(zmq.CURVE_SECRETKEY, secret)
    s.connect(endpoint)
    return s
