"""Our own programs as supervised processes (supervisor.py), for tests and benchmarks: the API
under gunicorn, a worker, and the fake OpenAI-compatible LLM server (tests/fakes/fake_llm.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localservices.jsonhttp import http_json
from localservices.supervisor import HOST, Program

REPO_ROOT = Path(__file__).resolve().parents[2]


class HttpProgram(Program):
    """A program serving HTTP on 127.0.0.1:`port` (its base URL is `url`), ready once GET
    `ready_path` answers 200."""

    def __init__(self, command: list[str], port: int, ready_path: str, **options: Any) -> None:
        self.url = f"http://{HOST}:{port}"
        self.port = port
        super().__init__(command, ready=lambda: self._answers(ready_path), **options)

    def ports(self) -> list[int]:
        return [self.port]

    def _answers(self, path: str) -> bool:
        try:
            return http_json("GET", f"{self.url}{path}", timeout=5)[0] == 200
        except OSError:
            return False


class ApiProgram(HttpProgram):
    """The API under gunicorn on 127.0.0.1:`port`; ready when `/readyz` answers 200 (every
    backend reachable). `url` is its base URL; `python` the interpreter that runs it."""

    name = "api"

    def __init__(
        self,
        port: int,
        env: dict[str, str],
        log_path: Path,
        workers: int = 2,
        threads: int = 4,
        python: str | Path = sys.executable,
    ) -> None:
        # `threads` is kept for callers; the gevent worker (`fortune_api.serving`) needs none.
        del threads
        command = [str(python), "-m", "gunicorn", "--config", "python:fortune_api.serving",
                   "--bind", f"{HOST}:{port}", "--workers", str(workers),
                   "fortune_api.app:create_app()"]  # fmt: skip
        super().__init__(
            command, port, "/readyz", env=env, cwd=REPO_ROOT, log_path=log_path, stop_timeout=40
        )


class WorkerProgram(Program):
    """`python -m fortune_worker` with `env`, its output in `log_path`; `ready` as given (the
    worker logs "consuming <queue>" at INFO once its consumer is registered)."""

    name = "worker"

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        ready: Callable[[], bool] | None = None,
        python: str | Path = sys.executable,
        stop_timeout: float = 30.0,
    ) -> None:
        super().__init__(
            [str(python), "-m", "fortune_worker"],
            ready=ready,
            env=env,
            cwd=REPO_ROOT,
            log_path=log_path,
            stop_timeout=stop_timeout,
        )


class FakeLLMProgram(HttpProgram):
    """The fake OpenAI-compatible server (tests/fakes/fake_llm.py) as a process; `base_url` is
    the OpenAI base URL, `stats()`, `reset()` and `control()` its test endpoints."""

    name = "fake-llm"

    def __init__(self, port: int, log_path: Path, latency: float = 0.0) -> None:
        command = [sys.executable, str(REPO_ROOT / "tests" / "fakes" / "fake_llm.py"),
                   "--port", str(port), "--latency", str(latency)]  # fmt: skip
        super().__init__(command, port, "/_stats", cwd=REPO_ROOT, log_path=log_path)
        self.base_url = f"{self.url}/v1"

    def stats(self) -> dict[str, Any]:
        """`GET /_stats`: calls per request id, the total, the most in flight at once."""
        return dict(http_json("GET", f"{self.url}/_stats")[1])

    def reset(self) -> None:
        """`POST /_reset`: zero the counters."""
        http_json("POST", f"{self.url}/_reset", {})

    def control(self, **changes: Any) -> None:
        """`POST /_control`: change its behaviour (latency, a mix of errors, ...)."""
        status, answer = http_json("POST", f"{self.url}/_control", changes)
        if status != 200:
            raise ValueError(f"fake LLM refused {changes}: {answer}")
