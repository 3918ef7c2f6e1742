"""One reverse call, as every handler sees it, whatever transport carried it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


class ReverseError(Exception):
    """The call cannot be answered; the plugin gets this message as a backwards-invocation error."""


@dataclass
class ReverseCall:
    invoke_type: str
    request: dict[str, Any]
    tenant_id: str
    plugin_id: str
    user_id: str
    session_id: str
    answered_by: str = "builtin"
    rule: str | None = None  # the fixture rule that answered, as file:line (`answered_by` has its name)
    caller_gone: Callable[[], Awaitable[bool]] | None = None  # see Session.caller_gone
    scenario_changes: list[dict[str, str]] = field(default_factory=list)  # {scenario, from, to, rule}, in order
    # Set by the answer chain when the answer is rendered from a reply: its chunks cannot hold a credential (see
    # answers/render.py holds_no_credentials), so the journal keeps them as they are instead of redacting each.
    answer_holds_no_credentials: bool = False
