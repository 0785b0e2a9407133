"""`python -m fortune_api`: serve the API with gunicorn (bind from FORTUNE_API_BIND)."""

from __future__ import annotations

import os
import sys


def main() -> None:
    bind = os.environ.get("FORTUNE_API_BIND", "0.0.0.0:8080")
    workers = os.environ.get("FORTUNE_API_WORKERS", "2")
    threads = os.environ.get("FORTUNE_API_THREADS", "8")
    args = [
        "gunicorn",
        "--bind", bind,
        "--workers", workers,
        "--threads", threads,
        "--access-logfile", "-",
        "--graceful-timeout", "20",
        "fortune_api.app:create_app()",
    ]  # fmt: skip
    os.execvp(sys.executable, [sys.executable, "-m", *args])


if __name__ == "__main__":
    main()
