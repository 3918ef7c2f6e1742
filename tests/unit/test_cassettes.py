"""Cassettes: the file format, normalised requests, strict matching with a diff, recording only what completed."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from dify_mock.answers.cassette_requests import normalise, without
from dify_mock.answers.cassettes import (
    Cassette,
    CassetteError,
    Cassettes,
    Entry,
    ReplayMismatch,
    cassette_name,
)
from dify_mock.protocol.reverse_call import ReverseCall, ReverseError


def llm_request(prompt: str, temperature: float = 0) -> dict[str, Any]:
    return {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "completion_params": {"temperature": temperature},
        "prompt_messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": prompt}],
        "stream": True,
    }


def call(request: dict[str, Any], invoke_type: str = "llm") -> ReverseCall:
    return ReverseCall(invoke_type, request, "default", "a/b", "user", "session")


def recorded(tmp_path: Path, *prompts: str, **options: Any) -> Cassettes:
    """A cassette with one entry per prompt, written by a recording library, read by a replaying one."""
    writer = Cassettes(record_dir=tmp_path)
    for prompt in prompts:
        recording = writer.record(call(llm_request(prompt)), "backend:local")
        recording.add({"delta": {"message": {"content": f"answer to {prompt}"}}, "embedding": [1e-05, 0.1]})
        recording.commit()
    return Cassettes(replay_dir=tmp_path, **options)


def replayed(cassettes: Cassettes, entry: Entry) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [chunk async for chunk in cassettes.replay(entry)]

    return asyncio.run(collect())


def test_the_file_round_trips_exactly_with_one_line_per_chunk(tmp_path):
    chunk = {"text": 'it\'s "quoted": yes\nnew line', "small": 1e-05, "big": 1.5e300, "none": None, "unicode": "café ✓"}
    cassette = Cassette("run", tmp_path / "run.yaml", [Entry("llm", llm_request("hi"), [(1.5, chunk), (2.0, {})], "x")])
    cassette.save()
    text = cassette.path.read_text(encoding="utf-8")
    assert text.startswith("# dify-mock cassette")
    assert len([line for line in text.splitlines() if line.startswith("  - {ms:")]) == 2
    assert "    - role: user\n      content: hi" in text  # requests are block YAML: a changed field is one line
    loaded = Cassette.load("run", cassette.path)
    assert loaded.entries[0].chunks == [(1.5, chunk), (2.0, {})]
    assert loaded.entries[0].request == llm_request("hi")


def test_a_broken_or_foreign_file_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("entries: [1, 2", encoding="utf-8")
    with pytest.raises(CassetteError, match=r"bad\.yaml: not a readable cassette"):
        Cassette.load("bad", path)
    path.write_text("hello: world\n", encoding="utf-8")
    with pytest.raises(CassetteError, match="no `entries:` list"):
        Cassette.load("bad", path)


def test_normalised_requests_mask_credentials_and_keep_audio_as_a_digest():
    request = {"model": "whisper-1", "file": "ff" * 5000, "credentials": {"api_key": "sk-123"}}
    normal = normalise("speech2text", request)
    assert normal["file"].startswith("sha256:") and normal["file"].endswith("(10000 chars)")
    assert normal["credentials"] == {"api_key": "***"}
    assert request["credentials"] == {"api_key": "sk-123"}


def test_without_drops_dotted_paths_with_wildcards():
    data = {"a": {"b": 1, "c": 2}, "list": [{"name": "x", "keep": 1}, {"name": "y", "keep": 2}]}
    assert without(data, ["a.b", "list.*.name"]) == {"a": {"c": 2}, "list": [{"keep": 1}, {"keep": 2}]}


def test_replay_finds_entries_in_order_then_repeats_the_last(tmp_path):
    cassettes = recorded(tmp_path, "one", "two", "one")
    first = cassettes.find(call(llm_request("one")), must_match=True)
    second = cassettes.find(call(llm_request("one")), must_match=True)
    third = cassettes.find(call(llm_request("one")), must_match=True)
    assert first is not None and second is not None and third is not None
    assert [first[1], second[1], third[1]] == [1, 3, 3]
    assert replayed(cassettes, first[2]) == [
        {"delta": {"message": {"content": "answer to one"}}, "embedding": [1e-05, 0.1]}
    ]
    assert cassettes.unused_report() == [
        f"cassette {tmp_path / 'cassette.yaml'}: 1 of 3 entries never replayed: #2 llm (prompt two)"
    ]


def test_a_strict_miss_shows_a_diff_against_the_nearest_entry(tmp_path):
    cassettes = recorded(tmp_path, "What is the weather in Paris?", "Something else entirely")
    with pytest.raises(ReplayMismatch) as failure:
        cassettes.find(call(llm_request("What is the weather in Rome?")), must_match=True)
    message = str(failure.value)
    assert "nearest is" in message and "entry 1, 1 field differs (prompt_messages[1].content)" in message
    assert "-  content: What is the weather in Paris?" in message
    assert "+  content: What is the weather in Rome?" in message
    assert cassettes.find(call(llm_request("Rome")), must_match=False) is None


def test_ignored_fields_are_not_compared(tmp_path):
    cassettes = recorded(tmp_path, "hi", ignore=("completion_params.temperature",))
    assert cassettes.find(call(llm_request("hi", temperature=0.7)), must_match=True) is not None
    strict = recorded(tmp_path / "other", "hi")
    with pytest.raises(ReplayMismatch, match=r"completion_params\.temperature"):
        strict.find(call(llm_request("hi", temperature=0.7)), must_match=True)


def test_a_missing_cassette_or_type_is_explained(tmp_path):
    cassettes = Cassettes(replay_dir=tmp_path)
    with pytest.raises(ReplayMismatch, match=r"there is no cassette .*cassette\.yaml"):
        cassettes.find(call(llm_request("hi")), must_match=True)
    cassettes = recorded(tmp_path, "hi")
    with pytest.raises(ReplayMismatch, match="has no tts entries \\(it holds llm\\)"):
        cassettes.find(call({"content_text": "x"}, "tts"), must_match=True)


def test_an_answer_that_did_not_complete_is_never_written_and_secrets_are_scrubbed(tmp_path):
    cassettes = Cassettes(record_dir=tmp_path, secrets=("sk-secret-value",))
    unfinished = cassettes.record(call(llm_request("first")), "backend:local")
    unfinished.add({"text": "half"})
    assert not (tmp_path / "cassette.yaml").exists()
    finished = cassettes.record(call(llm_request("leaks sk-secret-value")), "backend:local")
    finished.add({"text": "the key is sk-secret-value"})
    finished.commit()
    text = (tmp_path / "cassette.yaml").read_text(encoding="utf-8")
    assert "sk-secret-value" not in text and "***" in text
    assert [entry["request"]["prompt_messages"][1]["content"] for entry in yaml.safe_load(text)["entries"]] == [
        "leaks ***"
    ]
    assert not list(tmp_path.glob(".*tmp"))


def test_cassette_names_from_test_ids_are_safe_file_names():
    assert cassette_name("tests/test_x.py::test_y[a/b]") == "tests_test_x.py_test_y_a_b"
    assert cassette_name("../../etc/passwd") == "etc_passwd"
    with pytest.raises(ValueError):
        cassette_name("///")


def test_recording_and_replaying_one_folder_replays_what_it_holds_and_appends_the_rest(tmp_path):
    recorded(tmp_path, "old")
    both = Cassettes(record_dir=tmp_path, replay_dir=tmp_path)
    assert both.find(call(llm_request("old")), must_match=False) is not None
    assert both.find(call(llm_request("new")), must_match=False) is None
    recording = both.record(call(llm_request("new")), "backend:local")
    recording.add({"text": "fresh"})
    recording.commit()
    entries = yaml.safe_load((tmp_path / "cassette.yaml").read_text(encoding="utf-8"))["entries"]
    assert [entry["request"]["prompt_messages"][1]["content"] for entry in entries] == ["old", "new"]
    assert both.unused_report() == []


def test_the_default_cassette_is_no_longer_named_like_the_config_file_and_the_old_name_still_replays(tmp_path, caplog):
    recorded(tmp_path, "one")
    assert [path.name for path in tmp_path.iterdir()] == ["cassette.yaml"]
    (tmp_path / "cassette.yaml").rename(tmp_path / "dify-mock.yaml")  # a folder recorded before the rename
    old = Cassettes(replay_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="dify_mock"):
        found = old.find(call(llm_request("one")), must_match=True)
    assert found is not None and found[1] == 1
    assert "the cassette's old default name: rename it to cassette.yaml" in caplog.text
    (tmp_path / "dify-mock.yaml").write_text("backends: {}\n")  # a config file of that name is not a cassette
    assert Cassettes(replay_dir=tmp_path).find(call(llm_request("one")), must_match=False) is None


# --- record modes (vcrpy's names): what happens to a cassette that exists ----------------------------------------


def prompts_in(path: Path) -> list[str]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))["entries"]
    return [entry["request"]["prompt_messages"][1]["content"] for entry in entries]


def answers_in(path: Path) -> list[str]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))["entries"]
    return [entry["chunks"][0]["data"]["text"] for entry in entries]


def record_live(cassettes: Cassettes, prompt: str, answer: str) -> None:
    """What the answer chain does for a call a live backend answers: record it if this mode records now."""
    assert cassettes.records_current()
    recording = cassettes.record(call(llm_request(prompt)), "backend:local")
    recording.add({"text": answer})
    recording.commit()


def test_recording_again_into_a_cassette_that_exists_keeps_its_entries(tmp_path):
    """Issue 28: `--record DIR` a second time (mode all, the default with --record alone) used to replace the first
    run's file. Now the calls recorded again take the place of their earlier entries and the others stay."""
    first = Cassettes(record_dir=tmp_path)
    assert first.mode == "all"
    record_live(first, "one", "first answer to one")
    record_live(first, "two", "first answer to two")

    second = Cassettes(record_dir=tmp_path)
    assert not second.replaying  # all: every call goes to the backend again
    record_live(second, "one", "second answer to one")
    record_live(second, "three", "answer to three")
    path = tmp_path / "cassette.yaml"
    assert prompts_in(path) == ["one", "two", "three"]
    assert answers_in(path) == ["second answer to one", "first answer to two", "answer to three"]
    assert second.report()["replaced"] == 1 and second.report()["recorded"] == 2
    assert second.recording_report() == [
        f"cassette {path}: 2 entries recorded (record mode all), 1 of them in place of earlier ones; "
        "1 earlier entries kept"
    ]


def test_record_mode_all_keeps_repeated_calls_of_one_run(tmp_path):
    first = Cassettes(record_dir=tmp_path, mode="all")
    record_live(first, "again", "a1")
    record_live(first, "again", "a2")
    second = Cassettes(record_dir=tmp_path, mode="all")
    record_live(second, "again", "b1")
    record_live(second, "again", "b2")
    record_live(second, "again", "b3")
    assert answers_in(tmp_path / "cassette.yaml") == ["b1", "b2", "b3"]


def test_record_mode_once_records_a_new_cassette_and_refuses_new_calls_to_one_that_exists(tmp_path):
    fresh = Cassettes(record_dir=tmp_path, mode="once")
    assert fresh.find(call(llm_request("one")), must_match=False) is None
    record_live(fresh, "one", "answer")
    assert prompts_in(tmp_path / "cassette.yaml") == ["one"]

    again = Cassettes(record_dir=tmp_path, mode="once")
    assert not again.records_current()  # the cassette exists: nothing is recorded into it
    assert again.find(call(llm_request("one")), must_match=True) is not None
    with pytest.raises(ReplayMismatch, match="record mode once keeps a cassette that exists as it is"):
        again.find(call(llm_request("new")), must_match=True)
    assert prompts_in(tmp_path / "cassette.yaml") == ["one"]

    # Per test, the choice is made per cassette: another test's cassette that does not exist is recorded.
    again.use("tests/test_other.py::test_new")
    assert again.records_current()


def test_record_mode_new_episodes_replays_what_it_holds_and_records_the_rest(tmp_path):
    record_live(Cassettes(record_dir=tmp_path), "old", "old answer")
    cassettes = Cassettes(record_dir=tmp_path, mode="new_episodes")
    assert cassettes.replay_dir == tmp_path and cassettes.records_current()
    assert cassettes.find(call(llm_request("old")), must_match=False) is not None
    assert cassettes.find(call(llm_request("new")), must_match=False) is None
    record_live(cassettes, "new", "new answer")
    assert answers_in(tmp_path / "cassette.yaml") == ["old answer", "new answer"]


def test_record_mode_none_only_replays(tmp_path):
    record_live(Cassettes(record_dir=tmp_path), "old", "old answer")
    cassettes = Cassettes(record_dir=tmp_path, mode="none")
    assert cassettes.replaying and not cassettes.recording and not cassettes.records_current()
    assert cassettes.find(call(llm_request("old")), must_match=True) is not None
    with pytest.raises(ReplayMismatch):
        cassettes.find(call(llm_request("new")), must_match=True)


def test_the_default_mode_follows_the_folders_given(tmp_path):
    assert Cassettes(replay_dir=tmp_path).mode == "none"
    assert Cassettes(record_dir=tmp_path).mode == "all"
    assert Cassettes(record_dir=tmp_path, replay_dir=tmp_path).mode == "new_episodes"


def test_recording_into_a_file_that_is_not_a_cassette_is_refused_and_the_file_kept(tmp_path):
    path = tmp_path / "cassette.yaml"
    path.write_text("notes: not a cassette\n", encoding="utf-8")
    cassettes = Cassettes(record_dir=tmp_path)
    with pytest.raises(ReverseError, match="recording refused, so that nothing in it is lost"):
        cassettes.record(call(llm_request("one")), "backend:local")
    assert path.read_text(encoding="utf-8") == "notes: not a cassette\n"
