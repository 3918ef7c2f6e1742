import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from dify_mock.answers.replies import LLMReply, TTSReply
from dify_mock.answers.rules import FIXTURE_KEYS, FixtureError, RuleBook, audio_format, fixture_json_schema

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def llm_request(prompt: Any = "hi", **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "provider": "langgenius/openai/openai",
        "model": "gpt-4o-mini",
        "model_type": "llm",
        "prompt_messages": [{"role": "user", "content": prompt}],
        "tools": None,
        "stream": True,
    }
    request.update(extra)
    return request


def book(data: dict[str, Any]) -> RuleBook:
    rules = RuleBook()
    rules.add(data)
    return rules


def text_of(rules: RuleBook, invoke_type: str, request: dict[str, Any]) -> str | None:
    found = rules.answer(invoke_type, request)
    if found is None:
        return None
    assert isinstance(found.reply, LLMReply)
    return found.reply.text


def load_error(folder: Path, text: str) -> str:
    path = write(folder, "bad.yaml", text)
    with pytest.raises(FixtureError) as caught:
        RuleBook.load([path])
    return str(caught.value)


# Matching


def test_exact_contains_and_regex() -> None:
    rules = book(
        {
            "llm": [
                {"match": {"model": "gpt-4o"}, "reply": {"text": "exact"}},
                {"match": {"prompt": {"contains": "weather"}}, "reply": {"text": "contains"}},
                {"match": {"prompt": {"regex": "(?i)^bonjour\\b"}}, "reply": {"text": "regex"}},
            ]
        }
    )
    assert text_of(rules, "llm", llm_request(model="gpt-4o")) == "exact"
    assert text_of(rules, "llm", llm_request(model="gpt-4o-mini")) is None
    assert text_of(rules, "llm", llm_request("what weather today?")) == "contains"
    assert text_of(rules, "llm", llm_request("What Weather?")) is None
    assert text_of(rules, "llm", llm_request("BONJOUR tout le monde")) == "regex"
    assert text_of(rules, "llm", llm_request("bonjours")) is None


def test_tools_must_all_be_offered() -> None:
    rules = book({"llm": [{"match": {"tools": ["get_weather", "get_time"]}, "reply": {"text": "tools"}}]})
    tool = {"description": "", "parameters": {}}
    offered = [{"name": "get_time", **tool}, {"name": "search", **tool}, {"name": "get_weather", **tool}]
    assert text_of(rules, "llm", llm_request(tools=offered)) == "tools"
    assert text_of(rules, "llm", llm_request(tools=offered[:2])) is None
    assert text_of(rules, "llm", llm_request(tools=None)) is None


def test_tools_pattern_matches_any_name() -> None:
    rules = book({"llm": [{"match": {"tools": {"regex": "^get_"}}, "reply": {"text": "some getter"}}]})
    assert text_of(rules, "llm", llm_request(tools=[{"name": "search"}, {"name": "get_x"}])) == "some getter"
    assert text_of(rules, "llm", llm_request(tools=[{"name": "search"}])) is None


def test_prompt_is_the_last_user_message_and_list_contents_are_joined() -> None:
    rules = book(
        {
            "llm": [
                {"match": {"prompt": "part one\npart two"}, "reply": {"text": "joined"}},
                {"match": {"system": {"contains": "pirate"}}, "reply": {"text": "system"}},
            ]
        }
    )
    content = [
        {"type": "text", "data": "part one"},
        {"type": "image", "format": "png", "base64_data": "", "url": "", "mime_type": "image/png"},
        {"type": "text", "data": "part two"},
    ]
    messages = [
        {"role": "system", "content": "You are a pirate."},
        {"role": "system", "content": "Second system message."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": content},
    ]
    assert text_of(rules, "llm", llm_request(prompt_messages=messages)) == "joined"
    messages[-1] = {"role": "user", "content": "other"}
    assert text_of(rules, "llm", llm_request(prompt_messages=messages)) == "system"
    assert text_of(rules, "llm", llm_request(prompt_messages=messages[1:])) is None


def test_stream_flag_and_provider() -> None:
    rules = book(
        {"llm": [{"match": {"stream": False, "provider": {"contains": "openai"}}, "reply": {"text": "blocking"}}]}
    )
    assert text_of(rules, "llm", llm_request(stream=False)) == "blocking"
    assert text_of(rules, "llm", llm_request(stream=True)) is None
    assert text_of(rules, "llm", llm_request(stream=False, provider="langgenius/anthropic/anthropic")) is None


def test_facts_of_other_types() -> None:
    rules = book(
        {
            "text_embedding": [{"match": {"text": "b", "input_type": "query"}, "reply": {"dimensions": 2}}],
            "multimodal_embedding": [{"match": {"text": {"contains": "cat"}}, "reply": {"dimensions": 3}}],
            "rerank": [{"match": {"query": "q", "doc": {"contains": "needle"}}, "reply": {"scores": [1.0]}}],
            "multimodal_rerank": [{"match": {"query": "shoes"}, "reply": {"scores": [0.5]}}],
            "tts": [{"match": {"text": {"contains": "hello"}, "voice": "alloy"}, "reply": {"text": "hi"}}],
            "moderation": [{"match": {"text": {"contains": "bad"}}, "reply": {"flagged": True}}],
            "summary": [{"match": {"instruction": {"contains": "short"}}, "reply": {"summary": "s"}}],
        }
    )
    assert rules.answer("text_embedding", {"texts": ["a", "b"], "input_type": "query"}) is not None
    assert rules.answer("text_embedding", {"texts": ["a", "b"], "input_type": "document"}) is None
    documents = [{"content": "a cat", "content_type": "text"}, {"content": "cat.png", "content_type": "image"}]
    assert rules.answer("multimodal_embedding", {"documents": documents}) is not None
    assert rules.answer("multimodal_embedding", {"documents": documents[1:]}) is None
    assert rules.answer("rerank", {"query": "q", "docs": ["hay", "a needle"]}) is not None
    assert rules.answer("rerank", {"query": "q", "docs": ["hay"]}) is None
    assert rules.answer("multimodal_rerank", {"query": {"content": "shoes", "content_type": "text"}}) is not None
    assert rules.answer("tts", {"content_text": "hello there", "voice": "alloy"}) is not None
    assert rules.answer("tts", {"content_text": "hello there", "voice": "echo"}) is None
    assert rules.answer("moderation", {"text": "a bad word"}) is not None
    assert rules.answer("system_summary", {"text": "x" * 2000, "instruction": "keep it short"}) is not None
    assert rules.answer("summary", {"text": "x", "instruction": "short"}) is None


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"ID3\x04\x00", "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
        (b"OggS\x00\x02", "ogg"),
        (b"fLaC\x00\x00", "flac"),
        (b"hello world", "unknown"),
    ],
)
def test_audio_format_sniffing(head: bytes, expected: str) -> None:
    assert audio_format(head.hex()) == expected


def test_speech2text_format_match() -> None:
    rules = book({"speech2text": [{"match": {"format": "wav"}, "reply": {"text": "from wav"}}]})
    assert rules.answer("speech2text", {"file": b"RIFF\x00\x00\x00\x00WAVEfmt ".hex()}) is not None
    assert rules.answer("speech2text", {"file": (FIXTURES / "audio" / "hello.mp3").read_bytes().hex()}) is None


def test_rule_without_match_answers_everything_of_its_type() -> None:
    rules = book({"moderation": [{"reply": {"flagged": True}}]})
    assert rules.answer("moderation", {"text": "anything"}) is not None
    assert rules.answer("llm", llm_request()) is None


# Replies, order, add and remove


def test_replies_in_turn_then_the_last_repeats() -> None:
    rules = book({"llm": [{"name": "turns", "replies": [{"text": "one"}, {"text": "two"}]}]})
    answers = [text_of(rules, "llm", llm_request()) for _ in range(4)]
    assert answers == ["one", "two", "two", "two"]
    (rule,) = rules.rules("llm")
    assert rule.uses == 4
    assert rule.label() == "turns"
    assert rules.unused() == []


def test_first_matching_rule_wins_and_later_adds_come_after() -> None:
    rules = book(
        {
            "llm": [
                {"match": {"prompt": {"contains": "a"}}, "reply": {"text": "first"}},
                {"match": {"prompt": {"contains": "ab"}}, "reply": {"text": "second"}},
            ]
        }
    )
    added = rules.add({"llm": [{"reply": {"text": "fallback"}}]}, origin="test")
    assert text_of(rules, "llm", llm_request("ab")) == "first"
    assert text_of(rules, "llm", llm_request("zzz")) == "fallback"
    assert added[0].origin == "test:llm[0]"
    assert [r.label() for r in rules.unused()] == ["api:llm[1]"]
    rules.remove(added)
    assert text_of(rules, "llm", llm_request("zzz")) is None
    assert rules.counts() == {"api": {"llm": 2}}


def test_error_reply() -> None:
    rules = book({"moderation": [{"reply": {"error": "moderation is down"}}]})
    found = rules.answer("moderation", {"text": "x"})
    assert found is not None and found.reply.error == "moderation is down"


def test_warnings_for_rules_that_can_never_answer() -> None:
    rules = book(
        {
            "llm": [
                {"match": {"model": "m"}, "reply": {}},
                {"match": {"model": "m"}, "reply": {}},
                {"reply": {}},
                {"name": "late", "match": {"model": "n"}, "reply": {}},
            ],
            "tts": [{"reply": {}}],
        }
    )
    warnings = rules.warnings()
    assert len(warnings) == 2
    assert warnings[0].startswith("api:llm[1]:") and "same match" in warnings[0]
    assert warnings[1].startswith("api:llm[3]: llm rule 'late'") and "matches every call" in warnings[1]


# Loading


def test_load_file_lines_and_audio_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "voice.yaml",
        """
        # comment
        tts:
          - name: hello
            reply: {audio_file: audio/hello.mp3}
        moderation:
          - reply: {flagged: true}
        """,
    )
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "hello.mp3").write_bytes((FIXTURES / "audio" / "hello.mp3").read_bytes())
    rules = RuleBook.load([path])
    tts, moderation = rules.rules()
    assert tts.origin == f"{path}:3" and moderation.origin == f"{path}:6"
    assert moderation.label() == f"{path}:6"
    assert isinstance(tts.replies[0], TTSReply)
    assert tts.replies[0].audio_file == (tmp_path / "audio" / "hello.mp3").resolve()
    assert rules.counts() == {str(path): {"tts": 1, "moderation": 1}}


def test_load_folder_recursive_and_sorted(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "llm: [{reply: {text: b}}]")
    write(tmp_path, "a/z.yml", "llm: [{reply: {text: a/z}}]")
    write(tmp_path, "a/notes.txt", "not a fixture")
    write(tmp_path, "empty.yaml", "# nothing yet\n")
    rules = RuleBook.load([tmp_path])
    assert [r.replies[0].text for r in rules.rules("llm")] == ["a/z", "b"]  # type: ignore[attr-defined]
    assert list(rules.counts()) == [
        str(tmp_path / "a" / "z.yml"),
        str(tmp_path / "b.yaml"),
        str(tmp_path / "empty.yaml"),
    ]
    assert rules.counts()[str(tmp_path / "empty.yaml")] == {}


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="no such fixture file or folder"):
        RuleBook.load([tmp_path / "nope.yaml"])


def test_typo_in_match_key_names_file_line_and_key(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        """
        llm:
          - name: weather
            match:
              model: gpt-4o-mini
              promt: {contains: weather}
            reply: {text: sunny}
        """,
    )
    assert message == f"{tmp_path / 'bad.yaml'}:5: llm[0].match: unknown key 'promt' (did you mean 'prompt'?)"


def test_unknown_match_field_for_the_type_lists_the_known_ones(tmp_path: Path) -> None:
    message = load_error(tmp_path, "moderation:\n  - match: {prompt: x}\n    reply: {flagged: true}\n")
    assert message.endswith(":2: moderation[0].match: unknown key 'prompt' (expected one of: provider, model, text)")


def test_unknown_top_level_and_reply_keys(tmp_path: Path) -> None:
    message = load_error(tmp_path, "sumary: []\nllm:\n  - reply: {txt: hi}\n")
    assert ":1: (top level): unknown key 'sumary' (did you mean 'summary'?)" in message
    assert ":3: llm[0].reply: unknown key 'txt' (did you mean 'text'?)" in message


def test_bad_value_type(tmp_path: Path) -> None:
    message = load_error(tmp_path, "llm:\n  - match:\n      stream: maybe\n    reply: {}\n")
    assert message.startswith(f"{tmp_path / 'bad.yaml'}:3: llm[0].match.stream: ")
    assert 'got "maybe"' in message
    message = load_error(tmp_path, "text_embedding:\n  - reply: {dimensions: many}\n")
    assert ":2: text_embedding[0].reply.dimensions: " in message


def test_bad_regex_is_a_load_error(tmp_path: Path) -> None:
    message = load_error(tmp_path, "llm:\n  - match:\n      prompt: {regex: '(unclosed'}\n    reply: {}\n")
    assert ":3: llm[0].match.prompt.regex: bad regular expression '(unclosed'" in message


def test_reply_and_replies_are_exclusive(tmp_path: Path) -> None:
    both = load_error(tmp_path, "llm:\n  - reply: {}\n    replies: [{}]\n")
    assert both.endswith(":2: llm[0]: give exactly one of 'reply' (one answer) or 'replies' (answers used in turn)")
    neither = load_error(tmp_path, "llm:\n  - name: x\n")
    assert ":2: llm[0]: give exactly one of" in neither


def test_missing_audio_file(tmp_path: Path) -> None:
    message = load_error(tmp_path, "tts:\n  - replies:\n      - {}\n      - {audio_file: audio/missing.mp3}\n")
    assert f":4: tts[0].replies[1].audio_file: no such file: {tmp_path / 'audio' / 'missing.mp3'}" in message


def test_yaml_syntax_error_and_duplicate_keys(tmp_path: Path) -> None:
    assert ":3: YAML syntax error" in load_error(tmp_path, "llm:\n  - match: {prompt: x\n    reply: {}\n")
    assert load_error(tmp_path, "llm: []\nllm: []\n").endswith(":2: duplicate key 'llm'")


def test_empty_file_has_no_rules(tmp_path: Path) -> None:
    assert RuleBook.load([write(tmp_path, "empty.yaml", "")]).rules() == []
    assert RuleBook.load([write(tmp_path, "nulls.yaml", "llm:\n")]).rules() == []


def test_add_reports_the_origin() -> None:
    with pytest.raises(FixtureError) as caught:
        RuleBook().add({"llm": [{"match": {"modle": "x"}, "reply": {}}]}, origin="POST /fixtures")
    assert str(caught.value) == "POST /fixtures: llm[0].match: unknown key 'modle' (did you mean 'model'?)"


# Near misses


def test_near_miss_names_the_nearest_rule_and_its_differences() -> None:
    rules = book(
        {
            "llm": [
                {"name": "far", "match": {"model": "x", "prompt": "y", "stream": False}, "reply": {}},
                {"name": "near", "match": {"model": "gpt-4o", "prompt": {"contains": "weather"}}, "reply": {}},
            ]
        }
    )
    request = llm_request("what time is it? " + "and more " * 20, model="gpt-4o")
    assert rules.answer("llm", request) is None
    text = rules.near_miss("llm", request)
    lines = text.splitlines()
    assert (
        lines[0] == "no llm rule matched (2 rules checked); nearest is near (api:llm[1]), 1 of 2 match fields differ:"
    )
    assert lines[1].startswith('  prompt: wanted contains "weather", got "what time is it? and more')
    assert lines[1].endswith("...") and len(lines[1]) < 140
    assert len(lines) == 2


def test_near_miss_without_rules_of_the_type() -> None:
    assert RuleBook().near_miss("llm", llm_request()) == (
        "no fixture rules for llm (fixture key 'llm'); no rules are loaded at all"
    )
    rules = book({"tts": [{"reply": {}}], "summary": [{"reply": {}}]})
    assert rules.near_miss("llm", llm_request()).endswith("rules exist for: summary, tts")


# The shipped fixtures


def test_examples_load_cleanly_and_use_every_key() -> None:
    rules = RuleBook.load([FIXTURES / "examples.yaml"])
    assert rules.warnings() == []
    assert set(rules.counts()[str(FIXTURES / "examples.yaml")]) == set(FIXTURE_KEYS)
    weather = {**llm_request("How is the weather in Paris?"), "tools": [{"name": "get_weather"}]}
    first, second = rules.answer("llm", weather), rules.answer("llm", weather)
    assert first is not None and second is not None
    assert isinstance(first.reply, LLMReply) and first.reply.tool_calls[0].name == "get_weather"
    assert isinstance(second.reply, LLMReply) and second.reply.text == "It is sunny in Paris."
    speech = rules.answer("speech2text", {"file": (FIXTURES / "audio" / "hello.mp3").read_bytes().hex()})
    assert speech is not None


def test_example_audio_is_small() -> None:
    data = (FIXTURES / "audio" / "hello.mp3").read_bytes()
    assert audio_format(data.hex()) == "mp3" and len(data) < 20_000


def test_committed_schema_is_up_to_date() -> None:
    expected = json.dumps(fixture_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert (FIXTURES / "schema.json").read_text(encoding="utf-8") == expected, (
        "regenerate: .venv/bin/python -m dify_mock.answers.rules > fixtures/schema.json"
    )
    assert (
        (FIXTURES / "examples.yaml")
        .read_text(encoding="utf-8")
        .startswith("# yaml-language-server: $schema=./schema.json\n")
    )
