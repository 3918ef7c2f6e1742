"""The rule table of `findings.RULES`, applied to what one invocation gave: an answer, an error, or nothing.

`judge_answer` and `judge_error` are the only places a verdict is decided; `bench/official_sweep.py` and the page
only count them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dify_mock.check.findings import Finding, Reason, Status
from dify_mock.check.network import client_hosts, is_connection_error

# Errors no plugin raises on purpose: anywhere in its traceback, they are its bug. ValueErrors (JSONDecodeError,
# int() and float() of a text) are not among them: they are how a plugin refuses a value it could not parse.
CRASHES = frozenset(
    {
        "KeyError", "TypeError", "AttributeError", "IndexError", "NameError", "UnboundLocalError",
        "NotImplementedError", "ZeroDivisionError", "RecursionError", "ImportError",
        "ModuleNotFoundError", "UnicodeDecodeError", "UnicodeEncodeError", "AssertionError",
    }
)  # fmt: skip
CREDENTIAL_ERRORS = (
    "CredentialsValidateFailedError",
    "ToolProviderCredentialValidationError",
    "TriggerProviderCredentialValidationError",
    "DatasourceProviderCredentialValidationError",
    "InvokeAuthorizationError",
)
TIMEOUTS = ("InvokeTimeout", "killed by timeout")
ERROR_TEXT = re.compile(
    r"^\W*(error|failed|failure|exception)\b|\berror\s*[:(]|\bfailed\b|\bfailure\b|unauthori[sz]ed|forbidden|"
    r"invalid (api[ _-]?)?(key|token|credential)|no (access )?token|api[ _-]?key is required|"
    r"\b(status( code)?|http)\W*[45]\d\d\b|\b[45]\d\d (client|server) error|not authenticated|"
    r"\bmust be\b|\b(is|are) required\b|\binvalid\b|\bnot valid\b|\bplease provide\b|\bnot supported\b|"
    r"\bnot found\b|\bmissing\b|\bcannot be\b",
    re.IGNORECASE,
)
ERROR_OBJECT_KEYS = frozenset({"error", "message", "status", "code", "success", "details"})
SUBSTANCE = frozenset({"json", "blob", "image", "image_link", "link", "file", "variable", "blob_chunk"})  # not logs
# The text of a Python crash that the plugin caught and answered with
CRASH_TEXT = re.compile(
    r"got an unexpected keyword argument|takes \d+ positional arguments? but \d+|missing \d+ required positional|"
    r"object has no attribute|object is not (subscriptable|iterable|callable)|unsupported operand type|"
    r"name '\w+' is not defined|KeyError|IndexError: list index out of range"
)
# Crashes that no input and no state of the network can cause: a name, a module or a module's attribute missing
STATIC_CRASH = re.compile(
    r"^(NameError|ImportError|ModuleNotFoundError)\b|^AttributeError: module '[\w.]+' has no attribute"
)
FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)', re.MULTILINE)
EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<message>.*))?$")


@dataclass(frozen=True)
class Crash:
    error_type: str
    message: str
    file: str | None
    line: int | None


@dataclass(frozen=True)
class Context:
    """What the judge needs besides the outcome: what kind of call it was and what the proxy saw."""

    name: str
    root: Path  # the plugin's folder: frames there are the plugin's own
    seconds: float
    hosts: list[str]  # refused by the proxy during the call
    validates_credentials: bool = False
    oauth_only: bool = False
    credentials_refused: bool = False  # its provider refused the made-up credentials earlier
    # Why its provider's credential validation was not exercised, if it was not: Dify stores only credentials that
    # validated (and what the validation returned), so a call with these is one Dify would not make as such.
    credentials_unvalidated: Reason | None = None


def entry(context: Context, status: Status, message: str, reason: Reason | None = None, **extra: Any) -> Finding:
    return Finding(context.name, status, message, seconds=context.seconds, entry_point=True, reason=reason, **extra)


def not_reached(name: str, why: str) -> Finding:
    return Finding(name, Status.SKIP, why, entry_point=True, reason=Reason.NOT_REACHED)


def judge_answer(context: Context, chunks: list[dict[str, Any]]) -> Finding:
    summary = summarize(chunks)
    if context.hosts:
        return _network(context, f"it answered ({summary}) after the proxy refused its request")
    status = http_status(chunks)
    if status is not None and status >= 500:
        return entry(context, Status.FAIL, f"answered HTTP {status}: {summary}")
    if status is not None and status >= 400:
        return entry(context, Status.SKIP, f"answered HTTP {status}: {summary}", Reason.ERROR_ANSWER)
    texts = answer_texts(chunks)
    kinds = {str(chunk.get("type")) for chunk in chunks if isinstance(chunk, dict)}
    refusal = json_error(chunks)
    if refusal is not None:
        reason = Reason.OAUTH if context.oauth_only else Reason.ERROR_ANSWER
        return entry(context, Status.SKIP, f"answered only with a JSON error: {_one_line(refusal, 200)}", reason)
    if texts and not (kinds & SUBSTANCE) and CRASH_TEXT.search("".join(texts)) and len("".join(texts)) < 600:
        return entry(
            context, Status.FAIL, f"answered with the text of a crash it caught: {_one_line(' '.join(texts), 200)}"
        )
    if texts and not (kinds & SUBSTANCE) and _reads_as_error("".join(texts)):
        reason = Reason.OAUTH if context.oauth_only else Reason.ERROR_ANSWER
        return entry(context, Status.SKIP, _one_line(" ".join(texts), 200), reason)
    return entry(context, Status.PASS, f"answered: {summary}")


def judge_error(context: Context, error_type: str, message: str, traceback: str | None) -> Finding:
    text = f"{error_type}: {message}" if message else error_type
    short = _one_line(text)
    if any(words in text for words in TIMEOUTS):
        return hung(context)
    crash = crash_in(traceback, context.root, error_type, message)
    if crash is not None and STATIC_CRASH.search(f"{crash.error_type}: {crash.message}"):
        return _bug(context, crash, error_type, traceback)  # whatever the network did
    hosts = sorted(set(context.hosts) | set(client_hosts(text)))
    if hosts or is_connection_error(text):
        where = ", ".join(hosts) if hosts else "a host its client did not name"
        return entry(context, Status.SKIP, f"{where} ({short})", Reason.NETWORK, hosts=hosts)
    if "permission denied" in text:  # a reverse call its manifest does not grant: fails whatever the credentials
        return entry(context, Status.FAIL, short, traceback=traceback)
    if crash is not None and not context.validates_credentials:
        stood_in = _stood_in_credentials(context, crash)
        if stood_in is not None:
            reason, why = stood_in
            return entry(context, Status.SKIP, f"{crash.error_type}: {_one_line(crash.message, 200)}, {why}", reason)
    if crash is not None:
        return _bug(context, crash, error_type, traceback)
    if context.oauth_only:
        return entry(context, Status.SKIP, f"it got made-up tokens: {short}", Reason.OAUTH)
    credential_error = any(kind in error_type for kind in CREDENTIAL_ERRORS)
    if credential_error or context.validates_credentials or context.credentials_refused:
        why = "the made-up credentials were refused: " if context.validates_credentials else ""
        return entry(context, Status.SKIP, f"{why}{short}", Reason.CREDENTIALS)
    return entry(context, Status.SKIP, short, Reason.INPUT)


def _stood_in_credentials(context: Context, crash: Crash) -> tuple[Reason, str] | None:
    """Whether the crash may come from credentials Dify would never have stored: a model provider's that its
    validation did not pass (Dify stores only those that validated, with what the validation returned), or made-up
    OAuth tokens missing a key (Dify stores what the plugin's own OAuth exchange returns, whatever its schema
    declares)."""
    if context.credentials_unvalidated is not None:
        reason = context.credentials_unvalidated
        return reason, f"with credentials its provider's validation did not pass ({reason}): Dify stores none such"
    if context.oauth_only and crash.error_type == "KeyError":
        return Reason.OAUTH, "a key that made-up tokens lack: Dify stores what the plugin's OAuth exchange returns"
    return None


def _bug(context: Context, crash: Crash, error_type: str, traceback: str | None) -> Finding:
    if crash.file is None:
        origin = "no traceback came with it" if not traceback else "raised from no file of the plugin's"
        return entry(context, Status.FAIL, f"{crash.error_type}: {crash.message} ({origin})", traceback=traceback)
    wrapped = "" if crash.error_type == error_type else f", wrapped in {error_type}"
    detail = f"{crash.error_type}: {_one_line(crash.message, 200)}{wrapped}"
    return entry(context, Status.FAIL, detail, file=crash.file, line=crash.line, traceback=traceback)


def hung(context: Context) -> Finding:
    asked = f"; meanwhile the proxy refused {', '.join(context.hosts)}" if context.hosts else ""
    message = f"no answer after {context.seconds:.0f} s{asked}"
    return entry(context, Status.SKIP, message, Reason.HUNG, hosts=list(context.hosts))


def _network(context: Context, detail: str) -> Finding:
    hosts = ", ".join(context.hosts)
    return entry(context, Status.SKIP, f"{hosts} ({detail})", Reason.NETWORK, hosts=context.hosts)


def crash_in(traceback: str | None, root: Path, error_type: str, message: str) -> Crash | None:
    """The crash a traceback shows: the final error if it is one of CRASHES, or one that an earlier exception of
    the chain shows and the final error wraps (its text carries the crash's text or type)."""
    chain = list(_exceptions(traceback or ""))
    if not chain:
        return Crash(error_type, message, None, None) if error_type in CRASHES else None
    final_type = chain[-1][0]
    for kind, text, frames in reversed(chain):
        short = kind.rsplit(".", 1)[-1]
        if short not in CRASHES:
            continue
        wrapped = kind == final_type or (text and text in message) or short in message
        if not wrapped:
            continue
        own = [(file, line) for file, line in frames if _is_plugin_file(file, root)]
        if own:
            file, line = own[-1]
            return Crash(short, text, _relative(file, root), line)
        every = [(file, line) for _, _, more in chain for file, line in more if _is_plugin_file(file, root)]
        return Crash(short, text, *((_relative(every[-1][0], root), every[-1][1]) if every else (None, None)))
    return None


def _exceptions(traceback: str) -> Iterable[tuple[str, str, list[tuple[str, int]]]]:
    """(type, message, frames) of each exception of a formatted chain, innermost first."""
    for block in traceback.split("Traceback (most recent call last):")[1:]:
        frames = [(match["file"], int(match["line"])) for match in FRAME.finditer(block)]
        for line in reversed(block.strip().splitlines()):
            if line.startswith((" ", "During handling", "The above exception")) or not line.strip():
                continue
            found = EXCEPTION_LINE.match(line.strip())
            if found:
                yield found["type"], (found["message"] or "").strip(), frames
                break


def _is_plugin_file(file: str, root: Path) -> bool:
    if "site-packages" in file or file.startswith("<"):
        return False
    path = Path(file)
    return not path.is_absolute() or path.resolve().is_relative_to(root.resolve())


def _relative(file: str, root: Path) -> str:
    path = Path(file)
    return path.resolve().relative_to(root.resolve()).as_posix() if path.is_absolute() else path.as_posix()


def http_status(chunks: list[dict[str, Any]]) -> int | None:
    if len(chunks) == 1 and chunks[0].get("type") == "http":
        return int(chunks[0]["status"])
    return None


def json_error(chunks: list[dict[str, Any]]) -> str | None:
    """The error, when every JSON object the answer holds is only an error (`{"error": "..."}`, perhaps with a
    status or code) and the answer holds nothing else of substance: a refusal written as JSON."""
    objects = [chunk.get("message", {}).get("json_object") for chunk in chunks if chunk.get("type") == "json"]
    others = {str(chunk.get("type")) for chunk in chunks} - {"json", "log", "text"}
    if not objects or others or answer_texts(chunks):
        return None
    errors = []
    for value in objects:
        if not isinstance(value, dict) or not value.get("error") or not set(value) <= ERROR_OBJECT_KEYS:
            return None
        errors.append(str(value["error"]))
    return "; ".join(errors)


def answer_texts(chunks: list[dict[str, Any]]) -> list[str]:
    texts = []
    for chunk in chunks:
        message = chunk.get("message") if isinstance(chunk, dict) else None
        if chunk.get("type") == "text" and isinstance(message, dict) and str(message.get("text", "")).strip():
            texts.append(str(message["text"]))
    return texts


def summarize(chunks: list[dict[str, Any]]) -> str:
    if len(chunks) == 1 and chunks[0].get("type") == "http":
        body = _one_line(str(chunks[0].get("text") or ""), 200)
        return f"HTTP {chunks[0]['status']}, {chunks[0]['bytes']} bytes" + (f": {body!r}" if body else "")
    text = _one_line("".join(answer_texts(chunks)), 80)
    return f"{len(chunks)} chunk{'s' if len(chunks) != 1 else ''}" + (f", text {text!r}" if text else "")


def _reads_as_error(text: str) -> bool:
    return len(text) < 600 and bool(ERROR_TEXT.search(text))


def _one_line(message: str, limit: int = 300) -> str:
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
