"""What the recording fault tests share: the OpenAI stand-in as a live backend, and a config file that records it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

KEY_ENV = "STANDIN_FAULTS_API_KEY"
KEY = "sk-standin-faults-5b7Qz1Lm"
RECORDED_TYPES = ["llm", "text_embedding"]


def standin_config(folder: Path, base_url: str, **extra: Any) -> Path:
    """A config file sending llm and text_embedding calls to the stand-in at `base_url`."""
    config: dict[str, Any] = {
        "backends": {"standin": {"type": "openai", "base_url": base_url, "api_key_env": KEY_ENV, "timeout": 10}},
        "chain": {kind: ["fixtures", "replay", "standin", "builtin"] for kind in RECORDED_TYPES},
        **extra,
    }
    path = folder / "dify-mock.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def cassette_entries(path: Path) -> list[dict[str, Any]]:
    """The entries of a cassette file, read as plain YAML (it must parse)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and data.get("version") == 1, f"{path} is not a cassette: {data!r}"
    entries: list[dict[str, Any]] = data["entries"]
    return entries
