"""Which dify-plugin release a plugin on this machine runs, found from its process (Linux, loopback only).

The SDK does not send its version over the wire, and the manifest only dates it to a range (`>=0.6`). A plugin
connected over loopback is a process here: /proc/net/tcp names the socket at the other end of the connection,
/proc/*/fd its process, and the site-packages folder that process loaded its compiled modules from holds
`dify_plugin-<version>.dist-info`. Anything that cannot be read (another OS, another user's process, a plugin in
a container) gives None, and the connect line keeps the manifest's range.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

PROC = Path("/proc")
DIST_INFO = re.compile(r"^dify_plugin-(?P<version>[^-]+)\.dist-info$")


def release_of_peer(peer_host: str, peer_port: int) -> str | None:
    """The dify-plugin release of the local process whose socket is (peer_host, peer_port), or None."""
    try:
        address = ipaddress.ip_address(peer_host)
    except ValueError:
        return None
    if not address.is_loopback or not (PROC / "net" / "tcp").exists():
        return None
    inode = _socket_inode(address, peer_port)
    pid = _owner(inode) if inode else None
    return _release_in(pid) if pid else None


def _hex_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> tuple[str, str]:
    """How /proc/net/tcp (IPv4) or tcp6 spells the address: 32-bit words in host (little-endian) order."""
    packed = address.packed
    words = "".join(packed[index : index + 4][::-1].hex().upper() for index in range(0, len(packed), 4))
    return ("tcp" if address.version == 4 else "tcp6"), f"{words}:{port:04X}"


def _socket_inode(address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> str | None:
    table, local = _hex_address(address, port)
    try:
        lines = (PROC / "net" / table).read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 9 and fields[1] == local:
            return fields[9]
    return None


def _owner(inode: str) -> int | None:
    wanted = f"socket:[{inode}]"
    for process in PROC.iterdir():
        if not process.name.isdigit() or int(process.name) == os.getpid():
            continue
        try:
            for descriptor in (process / "fd").iterdir():
                if os.readlink(descriptor) == wanted:
                    return int(process.name)
        except OSError:  # gone, or not ours to read
            continue
    return None


def _release_in(pid: int) -> str | None:
    for folder in _site_packages(pid):
        try:
            for entry in folder.iterdir():
                found = DIST_INFO.match(entry.name)
                if found:
                    return found.group("version")
        except OSError:
            continue
    return None


def _site_packages(pid: int) -> list[Path]:
    """The site-packages folders the process mapped files from (compiled modules such as pydantic_core's)."""
    folders: list[Path] = []
    try:
        maps = (PROC / str(pid) / "maps").read_text()
    except OSError:
        return folders
    for line in maps.splitlines():
        path = line.split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
        head, marker, _ = path.partition("/site-packages/")
        if marker and Path(head + "/site-packages") not in folders:
            folders.append(Path(head + "/site-packages"))
    return folders
