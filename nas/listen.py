"""A listening socket for nas's servers (``nas serve``, ``nas device serve``), the variable
that holds the device agent's token (read by the agent and by the remote target), and the
shortest token either server takes."""

from __future__ import annotations

import socket

from nas.errors import OptionError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEVICE_TOKEN_ENV = "NAS_DEVICE_TOKEN"  # shared by `nas device serve` and remote:HOST:PORT
MIN_TOKEN_CHARS = 16  # a shared token of both servers (NAS_TOKEN, NAS_DEVICE_TOKEN)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; ``port=0`` picks a free one.

    Raises:
        OptionError: bad port or address in use.
    """
    if not 0 <= port <= 65535:
        raise OptionError(f"--port must be 0-65535, got {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OptionError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(False)
    return sock
