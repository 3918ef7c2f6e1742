"""One settings model: the command line, the DIFY_MOCK_* environment and the config file share names, defaults and
validation; a wrong value is one line that names it and what it takes, with exit status 2."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dify_mock.cli.main import build_parser, main
from dify_mock.cli.options import settings_of
from dify_mock.config.settings import ConfigError, Settings, option_fields


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("DIFY_MOCK_") or name == "INNER_API_KEY_FOR_PLUGIN":
            monkeypatch.delenv(name)


def settings(*argv: str) -> Settings:
    arguments = build_parser(argv[0]).parse_args(list(argv))
    return settings_of(arguments)


def run_main(capsys, *argv: str) -> tuple[int, str]:
    try:
        status = main(list(argv))
    except SystemExit as stop:
        status = int(stop.code or 0)
    return status, capsys.readouterr().err


def test_the_command_line_beats_the_environment_which_beats_the_config_file(tmp_path, monkeypatch):
    config = tmp_path / "mock.yaml"
    config.write_text("port: 5010\ndebug_port: 5011\nstrict: true\nlog_level: debug\n")
    monkeypatch.setenv("DIFY_MOCK_CONFIG", str(config))
    from_file = settings("serve")
    assert (from_file.port, from_file.debug_port, from_file.strict, from_file.log_level) == (5010, 5011, True, "debug")
    monkeypatch.setenv("DIFY_MOCK_PORT", "5020")
    monkeypatch.setenv("DIFY_MOCK_STRICT", "0")
    from_env = settings("serve")
    assert (from_env.port, from_env.debug_port, from_env.strict) == (5020, 5011, False)
    monkeypatch.setenv("DIFY_MOCK_STRICT", "1")
    given = settings("serve", "--port", "5030", "--no-strict")
    assert (given.port, given.strict) == (5030, False)
    assert settings("serve", "--strict").strict is True


def test_defaults_without_anything_set():
    default = settings("serve")
    assert (default.host, default.port, default.debug_port, default.log_level) == ("127.0.0.1", 5002, 5003, "info")
    assert default.fixtures == () and default.keys == {} and default.strict is False


def test_lists_come_from_repeated_flags_or_comma_separated_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("DIFY_MOCK_KEY", "k1=t1,k2")
    monkeypatch.setenv("DIFY_MOCK_FIXTURES", f"{tmp_path},{tmp_path / 'b'}")
    from_env = settings("serve")
    assert from_env.keys == {"k1": "t1", "k2": "default"}
    assert from_env.fixtures == (tmp_path, tmp_path / "b")
    assert settings("serve", "--key", "a", "--key", "b=t").keys == {"a": "default", "b": "t"}


def test_the_inner_api_key_is_also_read_from_difys_own_variable(monkeypatch):
    monkeypatch.setenv("INNER_API_KEY_FOR_PLUGIN", "from-dify")
    assert settings("serve").inner_api_key == "from-dify"
    monkeypatch.setenv("DIFY_MOCK_INNER_API_KEY", "ours")
    assert settings("serve").inner_api_key == "ours"
    assert settings("serve", "--inner-api-key", "given").inner_api_key == "given"


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["journal"], {"DIFY_MOCK_PORT": "abc"}, "DIFY_MOCK_PORT='abc': input should be a valid integer"),
        (["serve"], {"DIFY_MOCK_PORT": "70000"}, "DIFY_MOCK_PORT='70000': input should be less than or equal to 65535"),
        (["serve", "--log-level", "verbose"], {}, "--log-level 'verbose': must be one of debug, info, warning"),
        (["serve"], {"DIFY_MOCK_LOG_LEVEL": "loud"}, "DIFY_MOCK_LOG_LEVEL='loud': must be one of debug"),
        (["serve"], {"DIFY_MOCK_STRICT": "maybe"}, "DIFY_MOCK_STRICT='maybe': input should be a valid boolean"),
        (["serve", "--port", "x"], {}, "--port 'x': input should be a valid integer"),
        (["serve", "--heartbeat-timeout", "-1"], {}, "--heartbeat-timeout '-1': input should be greater than 0"),
        (["serve", "--invoke-timeout", "soon"], {}, "--invoke-timeout 'soon': input should be a valid number"),
        (["serve", "--max-upload-bytes", "0"], {}, "--max-upload-bytes '0': input should be greater than or equal"),
        (["serve", "--inner-api-stream", "udp"], {}, "--inner-api-stream 'udp': must be one of auto, frames, sse"),
        (["serve", "--replay-timing", "slow"], {}, "--replay-timing 'slow': must be one of instant, recorded"),
        (["serve", "--files-url", "ftp://x"], {}, "--files-url 'ftp://x': 'ftp://x' must start with http://"),
        (["serve", "--key", "=tenant"], {}, "--key (not shown): '=tenant': the key is empty"),
        (["serve", "--serverless", "nourl"], {}, "--serverless 'nourl': 'nourl': write AUTHOR/NAME=URL"),
        (["run", "x", "--runtime", "docker"], {}, "--runtime 'docker': must be one of local, remote"),
        (["journal", "--url", "localhost:5002"], {}, "--url 'localhost:5002': 'localhost:5002' must start with http"),
        (["invoke", "--url", "nowhere", "tool", "p", "t"], {}, "--url 'nowhere': 'nowhere' must start with http"),
        (["endpoints"], {"DIFY_MOCK_URL": "5002"}, "DIFY_MOCK_URL='5002': '5002' must start with http"),
        (["serve", "--config", "/nonexistent/mock.yaml"], {}, "/nonexistent/mock.yaml: cannot read the config file"),
        (["serve", "--fixtures", "/nonexistent/rules"], {}, "--fixtures /nonexistent/rules: no such file or folder"),
        (["serve", "--replay", "/nonexistent/cassettes"], {}, "--replay /nonexistent/cassettes: no such folder"),
        (["serve", "--portt", "1"], {}, "unrecognized arguments: --portt 1 (see dify-mock serve --help)"),
        (["serve", "--port"], {}, "argument --port: expected one argument (see dify-mock serve --help)"),
        (["nonsense"], {}, "invalid choice: 'nonsense'"),
        # the options each command has of its own
        (["journal", "--after-id", "x"], {}, "argument --after-id: 'x' is not a whole number"),
        (["journal", "--limit", "-1"], {}, "argument --limit: '-1': give 0 or more"),
        (["journal", "--since", "yesterday"], {}, "argument --since: 'yesterday' is not a time"),
        (["journal", "--kind"], {}, "argument --kind: expected one argument"),
        (["check", "--start-timeout", "abc", "x"], {}, "argument --start-timeout: 'abc' is not a number of seconds"),
        (["check", "--invoke-timeout", "-5", "x"], {}, "argument --invoke-timeout: '-5': give a number of seconds"),
        (["check", "--junit"], {}, "argument --junit: expected one argument"),
        (["check"], {}, "the following arguments are required: PLUGIN"),
        (["run"], {}, "the following arguments are required: PLUGIN"),
        (["serve", "extra"], {}, "dify-mock serve: unrecognized arguments: extra (see dify-mock serve --help)"),
        (["invoke", "badkind"], {}, "argument KIND: invalid choice: 'badkind'"),
        (["invoke", "tool", "p"], {}, "dify-mock invoke tool: the following arguments are required: name"),
        (["invoke", "model"], {}, "the following arguments are required: provider, model, action"),
        (["invoke", "trigger", "p", "badaction"], {}, "argument action: invalid choice: 'badaction'"),
        (["invoke", "datasource", "p", "d", "badaction"], {}, "argument action: invalid choice: 'badaction'"),
        (["invoke", "--credential"], {}, "argument --credential: expected one argument"),
        (["invoke", "tool", "p", "t", "noequals"], {}, "parameter 'noequals' should be NAME=VALUE or NAME:=JSON"),
        (["invoke", "tool", "p", "t", "n:={bad"], {}, "n:= needs JSON"),
        (["invoke", "tool", "p", "t", "n:=@/nonexistent.json"], {}, "n:=@/nonexistent.json: cannot read the file"),
        (["invoke", "model", "p", "m", "invoke", "--output"], {}, "argument --output: expected one argument"),
        (["endpoints", "enable"], {}, "the following arguments are required: hook"),
        (["endpoints", "setup"], {}, "setup needs the plugin: dify-mock endpoints setup PLUGIN_ID"),
        (["serve", "--cassette", "../x"], {}, "--cassette: cassette name '../x' is not a file name"),
    ],
)
def test_a_wrong_value_is_one_line_with_exit_status_2(capsys, monkeypatch, argv, env, expected):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status, err = run_main(capsys, *argv)
    assert status == 2, err
    assert expected in err
    assert err.count("\n") == 1 and "Traceback" not in err, err


def test_a_wrong_value_in_the_config_file_names_its_line(capsys, tmp_path):
    config = tmp_path / "mock.yaml"
    config.write_text("backends: {}\nport: many\n")
    status, err = run_main(capsys, "serve", "--config", str(config))
    assert status == 2
    assert f"{config}:2: port: 'many': input should be a valid integer" in err


def test_an_unknown_key_of_the_config_file_suggests_a_setting_too(tmp_path):
    from dify_mock.config.settings import load_settings

    config = tmp_path / "mock.yaml"
    config.write_text("debug_prot: 1\n")
    with pytest.raises(ConfigError, match="unknown key 'debug_prot' \\(did you mean 'debug_port'\\?\\)"):
        load_settings({"config": str(config)})


def test_environment_errors_never_show_a_key(capsys, monkeypatch):
    monkeypatch.setenv("DIFY_MOCK_KEY", "=secret-tenant")
    status, err = run_main(capsys, "serve")
    assert status == 2 and "DIFY_MOCK_KEY=(not shown)" in err


def test_every_option_says_its_default_and_variable_in_help(capsys):
    parsers = {"serve": "serve", "run": "run", "journal": "journal", "invoke": "invoke", "check": "check"}
    texts = {}
    for name in parsers:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        texts[name] = " ".join(capsys.readouterr().out.split())
    serve = texts["serve"]
    for name, field in option_fields().items():
        if name in ("url", "tenant", "user", "runtime", "cache_dir"):
            continue
        flag = f"--{name.replace('_', '-')}"
        assert flag in serve, flag
        assert f"env: DIFY_MOCK_{name.upper()}" in serve, name
        assert field.description, name
    assert "[default: 5002; env: DIFY_MOCK_PORT]" in serve
    assert "[one of debug, info, warning, error, critical; default: info; env: DIFY_MOCK_LOG_LEVEL]" in serve
    assert "--strict, --no-strict" in serve
    assert "Run the mock until Ctrl-C" in serve
    assert "env: DIFY_MOCK_RUNTIME" in texts["run"]
    assert "default: ~/.cache/dify-mock; env: DIFY_MOCK_CACHE_DIR" in texts["check"]
    for command in ("journal", "invoke"):
        assert "default: http://localhost:5002; env: DIFY_MOCK_URL" in texts[command]
    assert "env: DIFY_MOCK_TENANT" in texts["invoke"] and "env: DIFY_MOCK_USER" in texts["invoke"]


def test_every_command_option_has_help_text():
    parser = build_parser()
    for command, sub in _subparsers(parser).items():
        for action in sub._actions:
            assert action.help, f"dify-mock {command} {'/'.join(action.option_strings) or action.dest}: no help"


def _subparsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{prefix}{name}"] = sub
                found.update(_subparsers(sub, f"{prefix}{name} "))
    return found


def test_the_version_is_printed():
    done = subprocess.run(
        [sys.executable, "-m", "dify_mock", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stdout.startswith("dify-mock 0.")


def test_help_for_serve_works_even_with_a_wrong_variable():
    env = {**os.environ, "DIFY_MOCK_PORT": "abc"}
    done = subprocess.run(
        [sys.executable, "-m", "dify_mock", "serve", "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0 and "--port" in done.stdout and not done.stderr


def test_settings_paths_stay_paths():
    assert isinstance(settings("serve", "--data-dir", "x").data_dir, Path)


DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def _block(text: str, language: str) -> str:
    return text.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def test_the_settings_page_shows_what_the_commands_print(capsys, monkeypatch, tmp_path):
    page = DOCS.read_text(encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mock.yaml").write_text("backends: {}\nport: many\n")
    printed = []
    for argv, env in (
        (["journal"], {"DIFY_MOCK_PORT": "abc"}),
        (["serve", "--log-level", "verbose"], {}),
        (["serve", "--config", "mock.yaml"], {}),
    ):
        with monkeypatch.context() as scoped:
            for name, value in env.items():
                scoped.setenv(name, value)
            status, err = run_main(capsys, *argv)
        assert status == 2
        printed.append(err)
    assert "".join(printed) == _block(page, "text")
    (tmp_path / "example.yaml").write_text(_block(page, "yaml"))
    loaded = settings("serve", "--config", "example.yaml")
    assert (loaded.port, loaded.debug_port, loaded.strict) == (5012, 5013, True)
    assert loaded.fixtures == (Path("fixtures/my_plugin.yaml"),)
    assert loaded.answers.chain_for("llm") == ("fixtures", "local", "builtin")
