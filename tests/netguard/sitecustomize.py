"""Network audit for test servers: Python imports this at start-up when this folder is on PYTHONPATH.

With ``NETGUARD_LOG`` set, every address a socket is connected, bound or sent to, and every
name looked up, is appended to that file as one JSON line (via ``sys.addaudithook``, so it
sees the standard library, Tornado/uvicorn, requests, urllib, … alike). The tests read the
file afterwards and require every target to be loopback or a local (AF_UNIX) socket.
Without the variable this module does nothing.
"""

from __future__ import annotations

import json
import os
import sys
import threading

_LOG = os.environ.get("NETGUARD_LOG")
_EVENTS = {
    "socket.connect",
    "socket.bind",
    "socket.sendto",
    "socket.sendmsg",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
    "socket.getnameinfo",
}


def _install(path: str) -> None:
    lock = threading.Lock()
    fh = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - open for the process's life

    def hook(event: str, args: tuple) -> None:
        if event not in _EVENTS:
            return
        try:
            if event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"):
                sock, address = args[0], args[1]
                family = getattr(sock, "family", None)
                record = {"family": getattr(family, "name", str(family)), "address": repr(address)}
            elif event == "socket.getaddrinfo":
                record = {"family": "lookup", "address": repr(args[0]), "port": repr(args[1])}
            else:
                record = {"family": "lookup", "address": repr(args[0])}
            record |= {"event": event, "pid": os.getpid()}
            with lock:
                fh.write(json.dumps(record) + "\n")
        except Exception:  # noqa: BLE001, S110 - an audit hook must never break the audited call
            pass

    sys.addaudithook(hook)


if _LOG:
    _install(_LOG)
