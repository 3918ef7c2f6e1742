"""Regenerates raw_http_requests.json with Go's real `Request.Write` (needs `go`): python make_raw_http_golden.py

Each sample is an incoming request to `/e/{hook}/{path}`; `expected` is what the daemon's rewrite produces.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import unquote

HERE = Path(__file__).resolve().parent
HOOK = "h00k"

SAMPLES: list[tuple[str, str, list[tuple[str, str]], str]] = [
    ("POST", "/hello/x%20y?b=2&a=1&a=0&c", [("x-test", "v"), ("Content-Type", "application/json")], '{"a":1}'),
    ("POST", "/", [("Content-Length", "0")], ""),
    ("PUT", "/items/1", [], ""),
    ("GET", "/q", [("User-Agent", "curl/8.5.0"), ("Accept", "*/*")], ""),
    ("GET", "/q?x=1;y=2&z=%zz&ok=a+b%2Bc&=empty&flag", [], ""),
    ("HEAD", "/q", [], ""),
    ("OPTIONS", "/q", [("Origin", "http://example.com")], ""),
    ("DELETE", "/q/%E2%9C%93/!*()'", [], ""),
    ("DELETE", "/with-body", [("Content-Type", "text/plain")], "gone"),
    ("GET", "/trace", [("X-Forwarded-For", "1.2.3.4"), ("X-Real-IP", "1.2.3.4"), ("X-Original-Url", "/x")], ""),
    ("GET", "/host", [("X-Original-Host", "public.example.com"), ("X-Forwarded-Proto", "https")], ""),
    ("GET", "/hook-url", [("Dify-Hook-Url", "https://given.example/e/x"), ("Dify-Hook-Id", "spoofed")], ""),
    ("POST", "/multi", [("X-Many", "one"), ("x-many", "two"), ("A-First", "  padded  ")], "data"),
    ("POST", "/under", [("X-My_Header", "u")], "x"),
    ("GET", "/ua-empty", [("User-Agent", "")], ""),
    ("PATCH", "/p", [], "patched"),
    ("POST", "/a%2Fb/c:d@e=f&g+h$,;", [], "z"),
]


def raw(method: str, target: str, headers: list[tuple[str, str]], body: str) -> str:
    lines = [f"{method} /e/{HOOK}{target} HTTP/1.1", "Host: localhost:5002"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body and not any(name.lower() == "content-length" for name, _ in headers):
        lines.append(f"Content-Length: {len(body.encode())}")
    return "\r\n".join(lines) + "\r\n\r\n" + body


def main() -> None:
    subprocess.run(["go", "build", "-o", "/tmp/go_request_write", "."], cwd=HERE / "go_request_write", check=True)
    inputs = []
    for method, target, headers, body in SAMPLES:
        path = unquote(target.partition("?")[0])
        inputs.append({"raw": raw(method, target, headers, body), "hook": HOOK, "path": path})
    done = subprocess.run(
        ["/tmp/go_request_write"], input=json.dumps(inputs), capture_output=True, text=True, check=True
    )
    outputs = json.loads(done.stdout)
    golden = []
    for (method, target, headers, body), sample, expected in zip(SAMPLES, inputs, outputs, strict=True):
        query = target.partition("?")[2]
        golden.append(
            {
                "method": method,
                "path": sample["path"],
                "query": query,
                "headers": [["host", "localhost:5002"], *[[n.lower(), v] for n, v in headers]],
                "body": body,
                "hook_id": HOOK,
                "expected": expected,
            }
        )
    (HERE / "raw_http_requests.json").write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
