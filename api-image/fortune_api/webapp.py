"""The mini-program's H5 build served at `/app/` (set `FORTUNE_WEBAPP_DIR`; `make run` does).

A plain static route: `index.html` for `/app/`, the hashed assets under it, long caching for
assets and none for `index.html` (a new build is picked up at the next load). The H5 build
routes with the URL hash, so no other path needs the index.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, redirect, send_from_directory

WEBAPP_PREFIX = "/app/"


def is_webapp_path(path: str) -> bool:
    """Whether `path` belongs to the H5 app (open without an API key, like the probes)."""
    return path == WEBAPP_PREFIX.rstrip("/") or path.startswith(WEBAPP_PREFIX)


def install_webapp(app: Flask, directory: str) -> None:
    """Serve the files of `directory` under /app/ (nothing when `directory` is empty)."""
    if not directory:
        return
    root = Path(directory).resolve()

    @app.get("/app")
    def webapp_redirect() -> Response:
        """The H5 app lives at /app/."""
        return redirect(WEBAPP_PREFIX, code=308)  # type: ignore[return-value]

    @app.get("/app/", defaults={"path": "index.html"})
    @app.get("/app/<path:path>")
    def webapp(path: str) -> Response:
        """The H5 build of the mini-program (index.html, js/, css/, static/)."""
        response = send_from_directory(root, path)
        if path == "index.html":
            response.headers["Cache-Control"] = "no-cache"
        else:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
