"""A `.difypkg`'s signature, verified as the daemon verifies it at upload.

What is signed (`dify signature sign`): the SHA-256 of each zip entry's bytes, in the zip's order (the
`.verification.dify.json` that the signer adds is the last entry, so it is covered too), then the signing time as
decimal text. The zip comment holds `{"signature": base64, "time": unix seconds}`; the signature is RSA PKCS#1 v1.5
over SHA-256 of that data. Keys are PKCS#1 PEM ("RSA PUBLIC KEY"). The daemon always tries langgenius' official key,
then the keys of THIRD_PARTY_SIGNATURE_VERIFICATION_PUBLIC_KEYS; one that verifies is enough.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zipfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

OFFICIAL_KEY = Path(__file__).with_name("langgenius_public_key.pem")  # the daemon's pkg/license/public_key
VERIFICATION_FILE = ".verification.dify.json"
# The daemon's words when FORCE_VERIFYING_SIGNATURE (or the upload's verify flag) meets a package that fails.
DAEMON_REFUSAL = "plugin verification has been enabled, and the plugin you want to install has a bad signature"


class SignatureError(ValueError):
    """The package's signature does not verify; the text is the daemon's refusal and Go's reason after it."""


def verify_package(package: Path, public_keys: list[Path]) -> str:
    """Which key verified the package ("the official langgenius key" or a file name); SignatureError otherwise."""
    keys = [("the official langgenius key", OFFICIAL_KEY), *((str(path), path) for path in public_keys)]
    loaded = [(name, load_public_key(path)) for name, path in keys]
    data, signature = signed_data(package)
    for name, key in loaded:
        try:
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            return name
        except InvalidSignature:
            continue
    raise SignatureError(f"{DAEMON_REFUSAL}: crypto/rsa: verification error")


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    """A PKCS#1 PEM public key, with the daemon's words when it is not one."""
    try:
        text = path.read_bytes()
    except OSError as error:
        raise SignatureError(f"open {path}: {error.strerror or error}") from None
    if b"-----BEGIN RSA PUBLIC KEY-----" not in text:
        raise SignatureError(f"{path}: failed to decode PEM block containing public key")
    try:
        key = serialization.load_pem_public_key(text)
    except ValueError as error:
        raise SignatureError(f"{path}: not an RSA public key: {error}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError(f"{path}: failed to decode PEM block containing public key")
    return key


def signed_data(package: Path) -> tuple[bytes, bytes]:
    """(the bytes the signer signed, the signature) of a package."""
    with zipfile.ZipFile(package) as archive:
        digests = []
        for member in archive.infolist():
            if member.is_dir():
                raise SignatureError(f"{DAEMON_REFUSAL}: read {member.filename.rstrip('/')}: is a directory")
            digests.append(hashlib.sha256(archive.read(member)).digest())
        comment = archive.comment.decode("utf-8", errors="replace")
    try:
        fields = json.loads(comment)
    except ValueError:
        reason = "unexpected end of JSON input" if not comment else "invalid character in the zip comment"
        raise SignatureError(f"{DAEMON_REFUSAL}: {reason} (the package is not signed)") from None
    if not isinstance(fields, dict):
        raise SignatureError(f"{DAEMON_REFUSAL}: the zip comment is not a signature object")
    signed_at = fields.get("time", 0)
    try:
        signature = base64.b64decode(str(fields.get("signature", "")), validate=True)
    except (binascii.Error, ValueError) as error:
        raise SignatureError(f"{DAEMON_REFUSAL}: illegal base64 data ({error})") from None
    if not isinstance(signed_at, int) or not signature:
        raise SignatureError(f"{DAEMON_REFUSAL}: crypto/rsa: verification error")
    return b"".join(digests) + str(signed_at).encode(), signature
