"""`dify-mock check --verify-signature [--public-key FILE]`: a signed `.difypkg` verified as the daemon verifies it.

`fixtures/signed/web_search.signed.difypkg` is tests/plugins/web_search packaged with the real `dify plugin package`
and signed with the real `dify signature sign` (category langgenius) by a key pair made with the real
`dify signature generate`; only its public half is kept (`fixtures/signed/test.public.pem`). With DIFY_DAEMON_CTL
set, a fresh key pair and signature are made with the daemon's own CLI in the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from dify_mock.plugins.signature import DAEMON_REFUSAL, SignatureError, verify_package

SIGNED = Path(__file__).parent / "fixtures" / "signed"
PACKAGE = SIGNED / "web_search.signed.difypkg"
KEY = SIGNED / "test.public.pem"
PLUGINS = Path(__file__).parent / "plugins"


def signature_finding(*args: str | Path) -> tuple[int, dict[str, Any]]:
    """The exit status and the `signature` finding of `dify-mock check ... --json`."""
    command = [sys.executable, "-m", "dify_mock", "check", *map(str, args), "--json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    found = [finding for finding in report["findings"] if finding["check"] == "signature"]
    assert len(found) == 1, report["findings"]
    return result.returncode, found[0]


def rewritten(source: Path, target: Path, change: dict[str, bytes], comment: bytes | None = None) -> Path:
    """A copy of the package with some entries' bytes replaced, in the same order, keeping (or replacing) its comment."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for member in old.infolist():
            new.writestr(member.filename, change.get(member.filename, old.read(member)))
        new.comment = old.comment if comment is None else comment
    return target


def test_the_committed_signed_package_verifies_with_its_key_and_check_goes_on(sdk_python: str) -> None:
    assert verify_package(PACKAGE, [KEY]) == str(KEY)
    _, finding = signature_finding(PACKAGE, "--public-key", KEY, "--python", sdk_python)
    assert finding["status"] == "pass" and finding["message"] == f"signed; verified with {KEY}"


def test_without_its_key_only_the_official_key_is_tried_and_the_daemon_refuses(tmp_path: Path) -> None:
    status, finding = signature_finding(PACKAGE, "--verify-signature")
    assert status == 1 and finding["status"] == "fail"
    assert finding["message"] == f"{DAEMON_REFUSAL}: crypto/rsa: verification error"


def test_a_changed_file_breaks_the_signature(tmp_path: Path) -> None:
    tampered = rewritten(PACKAGE, tmp_path / "tampered.difypkg", {"tools/search.py": b"print('changed')\n"})
    with pytest.raises(SignatureError, match="crypto/rsa: verification error"):
        verify_package(tampered, [KEY])
    untouched = rewritten(PACKAGE, tmp_path / "copy.difypkg", {})  # re-zipped, same bytes and order: still valid
    assert verify_package(untouched, [KEY]) == str(KEY)


def test_an_unsigned_package_and_a_folder_are_refused_with_one_line(tmp_path: Path) -> None:
    unsigned = rewritten(PACKAGE, tmp_path / "unsigned.difypkg", {}, comment=b"")
    status, finding = signature_finding(unsigned, "--public-key", KEY)
    assert status == 1 and finding["message"].startswith(f"{DAEMON_REFUSAL}: unexpected end of JSON input")
    status, finding = signature_finding(PLUGINS / "web_search", "--verify-signature")
    assert status == 1 and finding["message"].startswith("a folder has no signature")


def test_a_key_that_is_not_a_pkcs1_public_key_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    status, finding = signature_finding(PACKAGE, "--public-key", bad)
    assert status == 1 and finding["message"].endswith("failed to decode PEM block containing public key")


@pytest.mark.skipif(not os.environ.get("DIFY_DAEMON_CTL"), reason="needs the daemon's CLI (DIFY_DAEMON_CTL)")
def test_a_package_signed_by_the_real_cli_with_a_key_made_in_the_test(tmp_path: Path) -> None:
    ctl = os.environ["DIFY_DAEMON_CTL"]
    dify = Path(subprocess.run([ctl, "bin"], capture_output=True, text=True, check=True).stdout.strip()) / "dify"
    folder = tmp_path / "web_search"
    shutil.copytree(PLUGINS / "web_search", folder, ignore=shutil.ignore_patterns("__pycache__"))
    run = {"cwd": tmp_path, "capture_output": True, "text": True, "check": True, "timeout": 120}
    subprocess.run([str(dify), "plugin", "package", str(folder), "-o", "plugin.difypkg"], **run)  # type: ignore[call-overload]
    for name in ("mine", "other"):
        subprocess.run([str(dify), "signature", "generate", "-f", name], **run)  # type: ignore[call-overload]
    subprocess.run([str(dify), "signature", "sign", "plugin.difypkg", "-p", "mine.private.pem"], **run)  # type: ignore[call-overload]
    signed = tmp_path / "plugin.signed.difypkg"
    assert verify_package(signed, [tmp_path / "mine.public.pem"]) == str(tmp_path / "mine.public.pem")
    status, finding = signature_finding(signed, "--public-key", tmp_path / "other.public.pem")
    assert status == 1 and finding["message"] == f"{DAEMON_REFUSAL}: crypto/rsa: verification error"
    # the CLI's own verifier agrees on both keys
    good = subprocess.run([str(dify), "signature", "verify", str(signed), "-p", "mine.public.pem"], cwd=tmp_path)
    bad = subprocess.run([str(dify), "signature", "verify", str(signed), "-p", "other.public.pem"], cwd=tmp_path)
    assert good.returncode == 0 and bad.returncode != 0
