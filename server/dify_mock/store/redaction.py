"""Secrets never leave the process: anything that looks like a credential is masked before it is kept.

Two ways, together:
- by name: the value of a key that names a secret (`api_key`, `aws_secret_access_key`, `Authorization`, `Cookie`,
  any `*-Key` header...) and every value of a credentials mapping is replaced by `***`;
- by value: each such value, and every other value passed as a secret (endpoint `secret-input` settings, the mock's
  own keys, a live backend's key), is remembered, and wherever it appears again, under any key, inside any text, as
  itself, in hex, in base64 (standard or URL-safe, at any alignment), percent- or JSON-escaped, it is masked too.
  Hex keeps its shape (`2a2a2a`, the hex of `***`), so a hex-encoded request still decodes.
Values shorter than MIN_SECRET_CHARS are masked by name only: masking `yes` everywhere would blank the journal.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import urllib.parse
from typing import Any

log = logging.getLogger("dify_mock.store.redaction")

MASK = "***"
SECRET_KEY = re.compile(
    r"secret|password|passwd|passphrase|cookie"  # anywhere in the name: aws_secret_access_key, set-cookie
    r"|(?:^|[_-])(?:api[_-]?key|apikey|access[_-]?key|private[_-]?key|session[_-]?key|token|auth|authorization"
    r"|credential)$"
    r"|^[a-z0-9-]*-key$",  # a *-Key header: X-Api-Key, X-Inner-Api-Key, Ocp-Apim-Subscription-Key
    re.I,
)
CREDENTIAL_CONTAINERS = frozenset({"credentials", "system_credentials", "tool_credentials"})
MIN_SECRET_CHARS = 6
MAX_SECRETS = 1000


class KnownSecrets:
    """The secret values seen so far, and one pattern that finds any of them in any of their encodings."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._replacements: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self._full_warned = False

    def add(self, value: str) -> bool:
        """Remembers `value` (and, for `Bearer xyz`, `xyz`; for a cookie header, each cookie); True if new."""
        added = False
        for candidate in _parts(value):
            if len(candidate) < MIN_SECRET_CHARS or candidate in self._values:
                continue
            if len(self._values) >= MAX_SECRETS:
                if not self._full_warned:
                    self._full_warned = True
                    log.warning("%d secret values are known: newer ones are masked by key name only", MAX_SECRETS)
                break
            self._values.add(candidate)
            self._replacements.update(_encodings(candidate))
            added = True
        if added:
            forms = sorted(self._replacements, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, forms)))
        return added

    def mask(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda found: self._replacements[found.group(0)], text)

    def clear(self) -> None:
        """Forgets every secret (for tests that need a process with none known)."""
        self._values.clear()
        self._replacements.clear()
        self._pattern = None

    @property
    def empty(self) -> bool:
        return self._pattern is None


def _parts(value: str) -> list[str]:
    parts = [value.strip()]
    scheme, space, rest = value.strip().partition(" ")
    if space and scheme.isalpha():  # Authorization: Bearer xyz, Basic base64
        parts.append(rest.strip())
    if "=" in value:  # Cookie: a=1; session=xyz
        parts += [cookie.partition("=")[2].strip() for cookie in value.split(";") if "=" in cookie]
    return parts


def _encodings(secret: str) -> dict[str, str]:
    raw = secret.encode()
    forms = {secret: MASK, raw.hex(): MASK.encode().hex(), raw.hex().upper(): MASK.encode().hex().upper()}
    for escaped in (urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret), json.dumps(secret)[1:-1]):
        forms.setdefault(escaped, MASK)
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for offset in range(3):  # inside a longer base64 text the secret may start at any byte of a 3-byte group
            encoded = encode(b"\0" * offset + raw).decode().rstrip("=")
            first = -(-offset * 8 // 6)  # the first character made of the secret's bits alone
            last = (offset + len(raw)) * 8 // 6  # one past the last such character
            core = encoded[first:last]
            if len(core) >= MIN_SECRET_CHARS:
                forms.setdefault(core, "*" * len(core))
    return forms


KNOWN = KnownSecrets()


def remember_secret(value: Any) -> None:
    """A value passed as a secret (a key, a secret-input setting): masked wherever it appears from now on."""
    if isinstance(value, str):
        KNOWN.add(value)


def mask_text(text: str) -> str:
    """`text` with every known secret masked, in any of its encodings."""
    return KNOWN.mask(text)


MASKING_CACHE_SIZE = 4096
_masking_of: dict[str, int] = {}  # a plain dict: a lookup per key is most of what redact() costs


def _masking(key: str) -> int:
    """0: an ordinary key; 1: its value is a secret; 2: its value is a mapping of credentials."""
    masking = 2 if key in CREDENTIAL_CONTAINERS else 1 if SECRET_KEY.search(key) else 0
    if len(_masking_of) < MASKING_CACHE_SIZE:
        _masking_of[key] = masking
    return masking


def redact(value: Any) -> Any:
    """A copy of `value` with every credential value replaced by `***`, and every known secret masked."""
    learnt = len(KNOWN._values)
    result = _redact(value)
    if len(KNOWN._values) != learnt:  # a secret learnt here may also stand earlier in the same value
        result = _redact(result)
    return result


def _redact(value: Any) -> Any:
    if type(value) is dict:
        result: dict[str, Any] = {}
        for key, item in value.items():
            masking = _masking_of.get(key) if type(key) is str else 0
            if masking is None:
                masking = _masking(key)
            if masking == 0:
                kind = type(item)
                result[key] = _redact(item) if kind in _CONTAINERS else _masked_str(item) if kind is str else item
            elif masking == 2 and isinstance(item, dict):
                for secret in item.values():
                    remember_secret(secret)
                result[key] = {name: MASK if secret is not None else None for name, secret in item.items()}
            elif masking == 1 and isinstance(item, str | int | float):
                remember_secret(item)
                result[key] = MASK
            else:
                result[key] = _redact(item)
        return result
    if type(value) is list:
        return [
            _redact(item) if type(item) in _CONTAINERS else _masked_str(item) if type(item) is str else item
            for item in value
        ]
    if isinstance(value, dict | list):  # subclasses, rarely
        return _redact(dict(value) if isinstance(value, dict) else list(value))
    if type(value) is str:
        return _masked_str(value)
    return value


def _masked_str(text: str) -> str:
    return text if KNOWN._pattern is None else KNOWN.mask(text)


_CONTAINERS = frozenset({dict, list})


def mask_key(key: str) -> str:
    """Enough of a key to tell keys apart in a log line, never the key itself."""
    return f"{key[:2]}…({len(key)} chars)" if len(key) > 4 else MASK


class MaskSecretsInLogs(logging.Filter):
    """Every known secret masked in a log record's message and traceback, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if KNOWN.empty:
            return True
        message = record.getMessage()
        masked = KNOWN.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = KNOWN.mask(record.exc_text)
        return True
