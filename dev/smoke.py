"""`make smoke`: submit one fortune to the running stack (`make run`) and print the result.

POST /v1/fortunes, then poll GET /v1/fortunes/<id> until it is succeeded, failed or cancelled
(deadline 60 s). Standard library only. The API base URL can be changed with FORTUNE_API_URL.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

API = os.environ.get("FORTUNE_API_URL", "http://127.0.0.1:8080").rstrip("/")
DEADLINE_SECONDS = 60.0
FINAL = {"succeeded", "failed", "cancelled"}
REQUEST = {
    "profile": {"birthDate": "1990-05-17", "birthTime": "08:30", "gender": "female"},
    "topic": "overall",
    "period": "day",
    "language": "en",
}


def call(method: str, url: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    """One HTTP call; (status, headers, decoded JSON body or text). HTTP errors are returned."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, dict(error.headers), error.read()
    try:
        return status, headers, json.loads(raw or b"null")
    except ValueError:
        return status, headers, raw.decode(errors="replace")


def main() -> int:
    """Submit, poll, print; exit 0 only when the fortune succeeded."""
    try:
        status, _, accepted = call("POST", f"{API}/v1/fortunes", REQUEST)
    except urllib.error.URLError as error:
        print(
            f"smoke: cannot reach {API} ({error.reason}); is `make run` running?", file=sys.stderr
        )
        return 1
    if status != 202:
        print(f"smoke: POST /v1/fortunes answered {status}: {accepted}", file=sys.stderr)
        return 1
    links = accepted.get("links") or {}
    self_link = links.get("self") or f"/v1/fortunes/{accepted['id']}"
    url = self_link if self_link.startswith("http") else f"{API}{self_link}"
    print(f"smoke: accepted {accepted['id']} ({accepted.get('status')}), polling {url}")

    deadline = time.monotonic() + DEADLINE_SECONDS
    last_status = None
    while True:
        status, headers, body = call("GET", url)
        current = body.get("status") if isinstance(body, dict) else None
        if current != last_status:
            print(f"smoke: {current or status}")
            last_status = current
        if status == 200 and current in FINAL:
            print(json.dumps(body, ensure_ascii=False, indent=2))
            return 0 if current == "succeeded" else 1
        if status not in (200, 404):  # 404 only until the request is visible everywhere
            print(f"smoke: GET answered {status}: {body}", file=sys.stderr)
            return 1
        if time.monotonic() > deadline:
            print(f"smoke: not finished after {DEADLINE_SECONDS:.0f}s: {body}", file=sys.stderr)
            return 1
        retry_after = headers.get("Retry-After", "")
        time.sleep(min(float(retry_after), 2.0) if retry_after.isdigit() else 0.5)


if __name__ == "__main__":
    sys.exit(main())
