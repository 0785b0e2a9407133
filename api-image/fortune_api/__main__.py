"""`python -m fortune_api`: serve the API with gunicorn's gevent worker (`fortune_api.serving`;
bind from FORTUNE_API_BIND)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def prepare_metrics_dir() -> None:
    """Create PROMETHEUS_MULTIPROC_DIR empty: samples of a previous run (a restarted container keeps
    its /tmp volume) would otherwise be added to this run's."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


def main() -> None:
    """Exec gunicorn with the app factory."""
    prepare_metrics_dir()
    bind = os.environ.get("FORTUNE_API_BIND", "0.0.0.0:8080")
    workers = os.environ.get("FORTUNE_API_WORKERS", "2")
    args = [
        "gunicorn",
        "--config", "python:fortune_api.serving",  # the gevent worker
        "--bind", bind,
        "--workers", workers,
        "--access-logfile", "-",
        "--graceful-timeout", "20",
        # gunicorn's runtime control socket would live in $HOME, which the image does not have
        # (read-only root filesystem); nothing uses it.
        "--no-control-socket",
        "fortune_api.app:create_app()",
    ]  # fmt: skip
    os.execvp(sys.executable, [sys.executable, "-m", *args])


if __name__ == "__main__":
    main()
