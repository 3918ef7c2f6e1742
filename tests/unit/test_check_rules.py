"""The rule table of `dify-mock check` (verdicts.py) and the requests it builds as Dify's API does: credential forms,
parameters, --inputs. Each case is one that the check used to get wrong."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from dify_mock.check.credentials import model_credentials, oauth_credentials, oauth_only, tool_credentials
from dify_mock.check.findings import Reason, Status
from dify_mock.check.inputs import InputsError, load_inputs
from dify_mock.check.parameters import parameters_for
from dify_mock.check.verdicts import Context, judge_answer, judge_error


def context(root: Path, **extra: object) -> Context:
    return Context(name="tool a/b", root=root, seconds=1.0, hosts=[], **extra)  # type: ignore[arg-type]


def plugin_traceback(root: Path, source: str) -> str:
    """The traceback the SDK sends, of `source` run as the plugin's provider/x.py."""
    path = root / "provider" / "x.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    try:
        exec(compile(source, str(path), "exec"), {})
    except Exception:
        return traceback.format_exc()
    raise AssertionError("the source did not raise")


WRAPPED = """
class CredentialsValidateFailedError(Exception):
    pass

credentials = {"api_key": "k"}
try:
    url = credentials["base_url"]
except Exception as error:
    raise CredentialsValidateFailedError(str(error))
"""


def test_a_crash_wrapped_in_a_credential_validation_is_a_plugin_bug_at_its_line(tmp_path: Path) -> None:
    trace = plugin_traceback(tmp_path, WRAPPED)
    finding = judge_error(
        context(tmp_path, validates_credentials=True), "CredentialsValidateFailedError", "'base_url'", trace
    )
    assert (finding.status, finding.verdict, finding.where) == (Status.FAIL, "plugin bug", "provider/x.py:7")
    assert finding.message == "KeyError: 'base_url', wrapped in CredentialsValidateFailedError"
    assert finding.traceback == trace


def test_a_deliberate_refusal_of_made_up_credentials_is_not_exercised(tmp_path: Path) -> None:
    deliberate = WRAPPED.replace(
        "raise CredentialsValidateFailedError(str(error))", "raise CredentialsValidateFailedError('set a base URL')"
    )
    trace = plugin_traceback(tmp_path, deliberate)
    finding = judge_error(
        context(tmp_path, validates_credentials=True), "CredentialsValidateFailedError", "set a base URL", trace
    )
    assert (finding.status, finding.reason) == (Status.SKIP, Reason.CREDENTIALS)


def test_a_value_error_of_float_on_our_text_is_always_a_refused_sample(tmp_path: Path) -> None:
    trace = plugin_traceback(tmp_path, "float('What is the weather in Paris?')\n")
    message = "could not convert string to float: 'What is the weather in Paris?'"
    for refused_before in (False, True):
        finding = judge_error(context(tmp_path, credentials_refused=refused_before), "ValueError", message, trace)
        assert finding.status is Status.SKIP
        assert finding.reason is (Reason.CREDENTIALS if refused_before else Reason.INPUT)


def test_a_timeout_is_a_hang_and_a_quoted_url_names_no_host(tmp_path: Path) -> None:
    hang = judge_error(context(tmp_path), "InvokeTimeout", "killed by timeout after 60 s", None)
    assert (hang.reason, hang.message, hang.hosts) == (Reason.HUNG, "no answer after 1 s", [])
    quoted = "Search failed for https://api.x.com/q?what%20is%20the%20weather%20in%20paris: bad query"
    refused = judge_error(context(tmp_path), "ToolInvokeError", quoted, None)
    assert (refused.reason, refused.hosts) == (Reason.INPUT, [])
    offline = judge_error(context(tmp_path), "ConnectError", "Failed to resolve 'api.x.io' ([Errno -2])", None)
    assert (offline.reason, offline.hosts) == (Reason.NETWORK, ["api.x.io"])


def test_answers_that_are_errors_or_that_follow_a_refused_request_are_not_verified(tmp_path: Path) -> None:
    def text(words: str) -> list[dict[str, object]]:
        return [{"type": "text", "message": {"text": words}}]

    assert judge_answer(context(tmp_path), text("Error: Execution failed - 401")).reason is Reason.ERROR_ANSWER
    assert judge_answer(context(tmp_path), text("No access token available")).reason is Reason.ERROR_ANSWER
    assert judge_answer(context(tmp_path), text("It is sunny in Paris.")).verdict == "verified"
    assert (
        judge_answer(context(tmp_path), text("Object slug must be in lower-case letters.")).reason
        is Reason.ERROR_ANSWER
    )
    caught = Context(name="tool a/b", root=tmp_path, seconds=1.0, hosts=["api.x.com"])
    finding = judge_answer(caught, text("403 Forbidden"))
    assert (finding.reason, finding.hosts) == (Reason.NETWORK, ["api.x.com"])
    strategy = [
        {"type": "log", "message": {}},
        *text("Error: Execution failed - run() got an unexpected keyword argument 'x'"),
    ]
    assert judge_answer(context(tmp_path), strategy).verdict == "plugin bug"
    webhook = [{"type": "http", "status": 500, "bytes": 3}]
    assert judge_answer(context(tmp_path), webhook).verdict == "plugin bug"


FORM = [
    {"variable": "api_key", "type": "secret-input", "required": True},
    {"variable": "mode", "type": "radio", "required": True, "options": [{"value": "completion"}, {"value": "chat"}]},
    {"variable": "vision", "type": "switch", "required": False, "default": "false"},
    {"variable": "base_url", "type": "text-input", "required": False},
    {
        "variable": "dims",
        "type": "text-input",
        "required": True,
        "show_on": [{"variable": "__model_type", "value": "text-embedding"}],
    },
    {
        "variable": "region",
        "type": "select",
        "required": True,
        "options": [{"value": "eu"}],
        "show_on": [{"variable": "mode", "value": "chat"}],
    },
]


def test_a_model_credential_form_is_filtered_as_dify_filters_it() -> None:
    assert model_credentials(FORM, None, "llm") == {
        "api_key": "dify-mock-check-secret",
        "mode": "completion",
        "vision": False,
    }
    by_method = [
        {"variable": "auth", "type": "radio", "required": True, "options": [{"value": "key"}, {"value": "entra"}]},
        {
            "variable": "api_key",
            "type": "secret-input",
            "required": False,
            "show_on": [{"variable": "auth", "value": "key"}],
        },
        {
            "variable": "tenant",
            "type": "text-input",
            "required": False,
            "show_on": [{"variable": "auth", "value": "entra"}],
        },
    ]
    assert model_credentials(by_method, None, "llm") == {"auth": "key", "api_key": "dify-mock-check-secret"}
    chat = model_credentials(FORM, {"mode": "chat"}, "text-embedding")
    assert chat["mode"] == "chat" and chat["region"] == "eu" and chat["dims"] == "dify-mock-dims"


def test_tool_forms_drop_blanks_and_oauth_only_providers_get_tokens() -> None:
    form = {
        "api_key": {"type": "secret-input", "required": True},
        "base_url": {"type": "text-input", "required": False},
    }
    assert tool_credentials(form, {"base_url": ""}) == {"api_key": "dify-mock-check-secret"}
    provider = {"oauth_schema": {"credentials_schema": [{"name": "access_token"}]}, "credentials_schema": []}
    assert oauth_only(provider) and oauth_credentials(provider["oauth_schema"]) == {
        "access_token": "dify-mock-oauth-access_token"
    }


def test_parameters_are_cast_and_taken_from_what_the_form_says() -> None:
    declared = [
        {"name": "count", "type": "number", "default": "20"},
        {"name": "exact", "type": "boolean", "default": "true"},
        {"name": "pages", "type": "string", "required": True, "human_description": {"en_US": "pages, e.g. 1;2;3"}},
        {"name": "filter", "type": "string", "required": True, "llm_description": "a JSON object of field filters"},
        {"name": "skipped", "type": "string", "required": False},
    ]
    values = parameters_for(declared, lambda _: {})
    assert values == {"count": 20, "exact": True, "pages": "1;2;3", "filter": '{"name": "dify-mock"}'}
    assert parameters_for(declared, lambda _: {}, {"pages": "7", "count": "2.5"})["count"] == 2.5
    region = {"name": "region", "type": "string", "required": True, "human_description": {"en_US": "e.g. us-east-1"}}
    assert parameters_for([region], lambda _: {}) == {"region": "us-east-1"}


def test_inputs_files_are_read_and_their_mistakes_named(tmp_path: Path) -> None:
    good = tmp_path / "inputs.yaml"
    good.write_text("parameters:\n  tool a/b: {city: Paris}\nmodels:\n  model m: llama3\n")
    inputs = load_inputs(good)
    assert inputs.parameters("tool a/b") == {"city": "Paris"} and inputs.model("model m") == "llama3"
    assert inputs.parameters("tool a/c") is None
    bad = tmp_path / "bad.yaml"
    for text, words in (
        ("params: {}\n", "unknown section params"),
        ("parameters:\n  tool a/b: 3\n", "parameters.tool a/b: a mapping was expected, not int"),
        ("[1\n", "not YAML"),
    ):
        bad.write_text(text)
        with pytest.raises(InputsError, match=words):
            load_inputs(bad)


def test_a_module_without_the_attribute_is_a_bug_whatever_the_network_did(tmp_path: Path) -> None:
    trace = plugin_traceback(
        tmp_path, "import json\ntry:\n    raise OSError('refused')\nexcept json.RequestException:\n    pass\n"
    )
    refused = Context(name="trigger t subscribe", root=tmp_path, seconds=1.0, hosts=["api.x.com"])
    finding = judge_error(refused, "AttributeError", "module 'json' has no attribute 'RequestException'", trace)
    assert (finding.verdict, finding.where) == ("plugin bug", "provider/x.py:4")


KEY_ERROR = 'credentials = {"api_key": "k"}\nmode = credentials["mode"]\n'


def test_a_crash_with_credentials_its_validation_did_not_pass_takes_the_validation_s_reason(tmp_path: Path) -> None:
    """models/novita: its validation returns `mode`, which Dify stores; the proxy refused the validation, so the
    model was called without it. Dify would not have called it with these credentials at all."""
    trace = plugin_traceback(tmp_path, KEY_ERROR)
    finding = judge_error(context(tmp_path, credentials_unvalidated=Reason.NETWORK), "KeyError", "'mode'", trace)
    assert (finding.status, finding.reason) == (Status.SKIP, Reason.NETWORK)
    assert finding.message.startswith("KeyError: 'mode', with credentials its provider's validation did not pass")
    assert judge_error(context(tmp_path), "KeyError", "'mode'", trace).verdict == "plugin bug"


def test_a_key_error_with_made_up_oauth_tokens_needs_oauth_and_a_type_error_is_still_a_bug(tmp_path: Path) -> None:
    """tools/microsoft_todo: Dify stores what the plugin's own OAuth exchange returns, not its declared schema."""
    trace = plugin_traceback(tmp_path, KEY_ERROR)
    finding = judge_error(context(tmp_path, oauth_only=True), "KeyError", "'mode'", trace)
    assert (finding.status, finding.reason) == (Status.SKIP, Reason.OAUTH)
    typed = plugin_traceback(tmp_path, "def f(a):\n    pass\n\nf(1, due_date=None)\n")
    message = "f() got an unexpected keyword argument 'due_date'"
    assert judge_error(context(tmp_path, oauth_only=True), "TypeError", message, typed).verdict == "plugin bug"


def test_an_answer_that_is_only_a_json_error_is_not_verified(tmp_path: Path) -> None:
    """tools/dicom_reader answers {"error": "No pixel data: ..."} for a file it cannot read."""

    def json_chunks(*objects: object) -> list[dict[str, object]]:
        return [{"type": "json", "message": {"json_object": value}} for value in objects]

    refused = judge_answer(context(tmp_path), json_chunks({"error": "No pixel data: not a DICOM file"}))
    assert (refused.reason, refused.message) == (
        Reason.ERROR_ANSWER,
        "answered only with a JSON error: No pixel data: not a DICOM file",
    )
    assert judge_answer(context(tmp_path), json_chunks({"error": None, "rows": 3})).verdict == "verified"
    assert judge_answer(context(tmp_path), json_chunks({"error": "x", "rows": 3})).verdict == "verified"


def test_a_parameter_that_asks_for_a_json_path_gets_a_query_not_a_document() -> None:
    """tools/json_process: "JSONPath" in a description contains "json"; a document there is refused."""
    query = {"name": "query", "type": "string", "form": "llm", "required": True, "llm_description": "JSONPath query"}
    content = {"name": "content", "type": "string", "form": "llm", "required": True, "llm_description": "JSON text"}
    values = parameters_for([query, content], lambda _: {})
    assert values == {"query": "$.name", "content": '{"name": "dify-mock"}'}


def test_only_a_model_provider_s_unvalidated_credentials_excuse_a_crash(tmp_path: Path) -> None:
    """A tool's validation returns no credentials: a KeyError on a parameter (tools/aliyuque's optional `token`)
    happens with credentials that validated just the same, so it stays a plugin bug after a refused validation."""
    from dify_mock.check.invocations import EntryPoint, Provider, invoke
    from dify_mock.check.network import RefusingProxy
    from dify_mock.testing import PluginError

    trace = plugin_traceback(tmp_path, KEY_ERROR)

    def crash() -> list[dict[str, object]]:
        raise PluginError("KeyError", "'mode'", {"traceback": trace})

    proxy = RefusingProxy()
    try:
        verdicts = {}
        for kind, returns in (("tool", False), ("model", True)):
            provider = Provider(f"{kind} p", {"api_key": "k"}, validation_returns_credentials=returns)
            provider.unvalidated = Reason.NETWORK
            verdicts[kind] = invoke(EntryPoint(f"{kind} p/x", crash, provider), proxy, tmp_path).verdict
    finally:
        proxy.stop()
    assert verdicts == {"tool": "plugin bug", "model": "not exercised: needs network"}
