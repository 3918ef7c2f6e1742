"""The docs' examples are compared with what really comes out: the comparison itself must be able to fail."""

from __future__ import annotations

from pathlib import Path

from tests.docs_examples import blocks, commands, examples, matches


def test_the_same_output_matches_and_a_changed_word_does_not() -> None:
    assert matches(["{", '  "flagged": true', "}"], '{\n  "flagged": true\n}\n\n')
    assert not matches(["{", '  "flagged": true', "}"], '{\n  "flagged": false\n}\n')
    assert not matches(["one"], "one\ntwo\n")


def test_an_ellipsis_line_stands_for_any_lines_and_inside_a_line_for_any_text() -> None:
    assert matches(["first", "...", "last"], "first\nlast\n")
    assert matches(["first", "...", "last"], "first\na\nb\nlast\n")
    assert matches(["...  rule:...  0.9 ms"], "08:52:06.650  #2  rule:weather (examples.yaml)  3.1 ms\n")
    assert not matches(["first", "...", "last"], "first\na\n")


def test_clock_times_and_durations_are_not_compared_but_other_numbers_are() -> None:
    assert matches(["09:34:14 started in 0.8 s"], "21:02:59 started in 12.5 s\n")
    assert not matches(["size 18"], "size 19\n")


def test_commands_continue_over_backslashes_and_collect_their_output(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- example: tour -->\n```console\n$ curl a \\\n    -d b\nout\n$ true\n```\n\n"
        "```sh\n$ not an example\nits output\n```\n"
    )
    found = examples([page])
    assert [(command.text, command.shown_output) for command in found[0].commands] == [
        ("curl a \\\n    -d b", ["out"]),
        ("true", []),
    ]
    unmarked = blocks(page)[1]
    assert unmarked.setup is None and commands(unmarked.body)[0].shown_output == ["its output"]
