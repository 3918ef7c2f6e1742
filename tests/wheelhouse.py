"""A folder of wheels made from the packages installed in .venv-sdk, so pip installs a package's requirements
offline (PIP_NO_INDEX=1, PIP_FIND_LINKS=<folder>): the tests never reach a package index."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from importlib import metadata
from pathlib import Path

SKIPPED = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")


def build_wheelhouse(site_packages: Path, into: Path) -> Path:
    """One wheel per installed distribution, rebuilt from its RECORD, tagged as its WHEEL file says."""
    into.mkdir(parents=True, exist_ok=True)
    for distribution in metadata.distributions(path=[str(site_packages)]):
        info = Path(str(distribution._path))  # type: ignore[attr-defined]
        tags = [
            line.split(":", 1)[1].strip()
            for line in (info / "WHEEL").read_text().splitlines()
            if line.startswith("Tag:")
        ]
        name = distribution.metadata["Name"].replace("-", "_")
        wheel = into / f"{name}-{distribution.version}-{tags[0] if tags else 'py3-none-any'}.whl"
        records = []
        with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in distribution.files or []:
                relative = str(file)
                if relative.startswith("..") or "__pycache__" in relative or relative.endswith(SKIPPED):
                    continue
                source = site_packages / relative
                if not source.is_file():
                    continue
                data = source.read_bytes()
                archive.writestr(relative, data)
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                records.append(f"{relative},sha256={digest},{len(data)}")
            record = f"{info.name}/RECORD"
            archive.writestr(record, "\n".join([*records, f"{record},,"]) + "\n")
    return into
