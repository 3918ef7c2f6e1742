"""docs/conformance.md's dispatch section, written between its markers; the rest of the page is kept."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from conformance.compare import ALLOWED_DIFFERENCE, IDENTICAL, NORMALISED, UNEXPLAINED, Verdict

BEGIN, END = "<!-- dispatch:begin -->", "<!-- dispatch:end -->"
RESULTS: list[Verdict] = []
COMMAND = "make conformance"


def section(results: list[Verdict]) -> str:
    counts = Counter(result.outcome for result in results)
    lines = [
        BEGIN,
        f"Written by `{COMMAND}` (tests/conformance/report.py): {len(results)} dispatch cases, each sent to the real",
        "daemon (the plugin on its local runtime, dify-mock's inner API as its Dify API) and to `dify-mock run` with the",
        "same plugin folders and fixture rules. What is normalised: tests/conformance/normalise.py. What may differ:",
        "tests/conformance/allowed.py.",
        "",
        "| verdict | cases |",
        "|---|---|",
        *(
            f"| {outcome} | {counts.get(outcome, 0)} |"
            for outcome in (IDENTICAL, NORMALISED, ALLOWED_DIFFERENCE, UNEXPLAINED)
        ),
        "",
        "| case | verdict | reason |",
        "|---|---|---|",
        *(
            f"| `{r.case_id}` | {r.outcome} | {r.reason.replace('|', '/')} |"
            for r in sorted(results, key=lambda r: r.case_id)
        ),
        END,
    ]
    return "\n".join(lines)


def write(page: Path, results: list[Verdict]) -> None:
    text = page.read_text(encoding="utf-8") if page.exists() else ""
    new = section(results)
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + new + tail
    else:
        text = (text.rstrip() + "\n\n" if text else "# Conformance with the real daemon\n\n") + new + "\n"
    page.write_text(text, encoding="utf-8")
