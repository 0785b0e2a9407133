"""CyberFortune HTTP API (`fortune_api`): Flask app factory `create_app`, served by gunicorn."""

from fortune_api.app import create_app

__all__ = ["create_app"]
