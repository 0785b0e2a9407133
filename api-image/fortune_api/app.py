"""The Flask application factory."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from fortune_api.backends import Backends
from fortune_api.cors import install_cors
from fortune_api.errors import TRACE_HEADER, ApiError, log_extra, trace_id
from fortune_api.events import bp as events_bp
from fortune_api.fortunes import bp as fortunes_bp
from fortune_api.history import bp as history_bp
from fortune_api.identity import address_identity, resolve_client
from fortune_api.logins import SESSIONS_PATH, install_sessions
from fortune_api.metrics import HTTP_LATENCY, HTTP_REQUESTS, render
from fortune_api.openapi import openapi_document
from fortune_api.profiles import bp as profiles_bp
from fortune_api.sessions import signer_of
from fortune_api.settings import ApiSettings
from fortune_api.shares import SHARED_PATH
from fortune_api.shares import bp as shares_bp
from fortune_api.subscriptions import bp as subscriptions_bp
from fortune_api.webapp import install_webapp, is_webapp_path
from fortune_core import configure_logging, warm_lunar_years

log = logging.getLogger(__name__)
OPEN_PATHS = {"/healthz", "/readyz", "/metrics", "/openapi.json"}


def create_app(
    settings: ApiSettings | None = None,
    backends: Backends | None = None,
    wait_for_backends: bool = True,
) -> Flask:
    """Build the app. Without arguments it reads the environment and waits (bounded) for its
    backends, as gunicorn needs: `gunicorn 'fortune_api.app:create_app()'`."""
    settings = settings or ApiSettings.from_env()
    if backends is None:
        configure_logging("api", settings.core.log_level)
        warm_lunar_years()  # a serving process: its derivations all stay cheap
        backends = Backends(settings)
        if wait_for_backends:
            backends.wait_until_ready(settings.backend_wait_seconds)
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["cyberfortune"] = backends
    if settings.trusted_proxy_hops:
        # The client address is the one the nearest trusted proxy saw (the right-most entries of
        # X-Forwarded-For), never what the client wrote into the header itself.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxy_hops, x_proto=0, x_host=0
        )
    app.register_blueprint(fortunes_bp)
    app.register_blueprint(events_bp)
    app.register_blueprint(history_bp)
    app.register_blueprint(shares_bp)
    app.register_blueprint(subscriptions_bp)
    app.register_blueprint(profiles_bp)
    install_sessions(app, settings, backends)
    install_cors(app, settings.cors_origins)  # first: a preflight never meets authentication
    _install_hooks(app, settings)
    install_webapp(app, settings.webapp_dir)
    _install_system_routes(app, backends)
    _install_error_handlers(app)
    return app


def _install_hooks(app: Flask, settings: ApiSettings) -> None:
    @app.before_request
    def _before() -> None:
        g.started = time.perf_counter()
        trace_id()
        if (
            request.path in OPEN_PATHS
            or is_webapp_path(request.path)
            or request.path.startswith(SESSIONS_PATH)  # a phone holds no API key
            or request.path.startswith(SHARED_PATH)  # a share opens for anyone
        ):
            g.client_id = address_identity()
            return
        g.client_id = resolve_client(settings, signer_of(app))

    @app.after_request
    def _after(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        started = getattr(g, "started", None)
        if started is not None:
            HTTP_LATENCY.labels(route, request.method).observe(time.perf_counter() - started)
        response.headers[TRACE_HEADER] = trace_id() or ""
        return response


def _install_system_routes(app: Flask, backends: Backends) -> None:
    @app.get("/healthz")
    def healthz() -> Response:
        """Liveness: the process answers."""
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> Response:
        """Readiness: every backend answers."""
        checks = backends.check()
        ready = not any(checks.values())
        if not ready:
            log.warning("not ready", extra=log_extra(down=checks))
        body = {
            "status": "ok" if ready else "unavailable",
            "checks": {name: "unavailable" if error else "ok" for name, error in checks.items()},
        }
        response = jsonify(body)
        response.status_code = 200 if ready else 503
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus metrics."""
        payload, content_type = render()
        return Response(payload, content_type=content_type)

    @app.get("/openapi.json")
    def openapi() -> Response:
        """The OpenAPI 3.1 document of this API."""
        allow_private = backends.settings.core.webhook_allow_private
        return jsonify(openapi_document(backends.clock(), allow_private))


def _install_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error.response()

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        code = (error.name or "error").lower().replace(" ", "_")
        response = ApiError(error.code or 500, code, error.description or code).response()
        if error.code == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        log.exception("unhandled error", extra=log_extra())
        return ApiError(500, "internal_error", "an internal error occurred").response()
