"""The one table of differences kept on purpose: case id -> (the part that may differ, why).

A part is `status`, `content_type`, `body` or `calls` (the reverse calls in the journal). Everything not listed
here must be identical, or equal after `normalise.py`.
"""

from __future__ import annotations

ALLOWED: dict[str, tuple[frozenset[str], str]] = {
    "probe.line_over_limit": (
        frozenset({"body"}),
        "a stdout line over 5 MB: both stop reading the plugin's instance there and start it again, but the daemon "
        "leaves the call waiting out the invoke timeout (`killed by timeout`), where dify-mock ends it at once with "
        "the reason (the line over the limit). Kept: the caller learns at once what happened, and why",
    ),
    "caller.oversized_body": (
        frozenset({"body"}),
        "a 16 MB prompt comes back in the plugin's answer as a stdout line over 5 MB: as probe.line_over_limit",
    ),
    "reverse.storage_over_quota_again": (
        frozenset({"body"}),
        "the daemon writes a value before it checks the quota, so a refused write is stored all the same, and the "
        "same write again then fits (it replaces itself); dify-mock stores nothing it refuses and refuses again. "
        "Kept: a refused write must leave the store as it was",
    ),
}

# Where dify-mock's message is the daemon's, then "; " and a hint of its own (the plugin that is not connected, and
# which are; the route it does not serve), the two are compared without the hint, and the case counts as an allowed
# difference for this reason.
HINT_SEPARATOR = "; "
HINT_REASON = "the daemon's message, then dify-mock's hint after it in the same field"

# Plugins of tests/plugins that the real `dify plugin package` refuses, so the daemon never runs them.
NOT_INSTALLABLE: dict[str, str] = {
    "declarations_probe": "it declares one of everything to test the declaration loader, including a parameter "
    "`use_template: not_a_template` that the real CLI refuses (`use_template not_a_template not found`); "
    "no dispatch case uses it",
    "trigger_plugin": "it declares a trigger and a tool (to test OAuth and dynamic select for both in one plugin); "
    "the daemon refuses the package: `trigger and tool, model, endpoint, or agent_strategy cannot be provided at the "
    "same time`. Its dispatch routes are held against the SDK in tests/test_dispatch_routes.py",
}

# Plugins of tests/plugins that dispatch cases do not use: the fixtures of `dify-mock check`'s own tests
# (tests/test_check*.py), each broken on purpose in one way check must report. Installing them all in the daemon would
# double the suite's time for no dispatch case.
NOT_DISPATCHED_PREFIX = "check_"
NOT_DISPATCHED_REASON = "a fixture of `dify-mock check`'s tests, broken on purpose for one finding; no dispatch case"
