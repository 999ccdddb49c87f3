"""This computer's own address on the class network (for the join link), found without connecting.

``python -m edu_core.netinfo [--json]`` prints it.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
from collections.abc import Sequence

from edu_core.cli import print_json

try:
    import fcntl
except ImportError:  # Windows has no ioctl: the host name is looked up instead
    fcntl = None  # type: ignore[assignment]

_SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


def lan_address() -> str:
    """This computer's IPv4 address on the class network, read from its own interfaces.

    Nothing is connected to or sent: the kernel is asked for each interface's address
    (Linux ``SIOCGIFADDR``); elsewhere the host name is looked up locally. The teacher can
    still correct the address in the text box if the machine has several networks.
    """
    try:
        if fcntl is None:
            raise OSError("no ioctl on this system")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _, name in socket.if_nameindex():
                if name == "lo":
                    continue
                try:
                    packed = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, struct.pack("256s", name[:15].encode()))
                except OSError:  # interface without an IPv4 address
                    continue
                address = socket.inet_ntoa(packed[20:24])
                if not address.startswith("127."):
                    return address
    except OSError:
        pass
    if sys.platform.startswith("linux"):
        # The kernel listed every interface and none is on a network: looking the host name
        # up could send a DNS query out, so stay on this computer.
        return "127.0.0.1"
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
    return address


def main(argv: Sequence[str] | None = None) -> int:
    """Print the address the join link uses."""
    parser = argparse.ArgumentParser(prog="python -m edu_core.netinfo", description=__doc__)
    parser.add_argument("--json", action="store_true", help='print {"address": ...}')
    args = parser.parse_args(argv)
    address = lan_address()
    if args.json:
        print_json({"address": address})  # an address is ASCII: the bytes of json.dumps' default
    else:
        print(address)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
