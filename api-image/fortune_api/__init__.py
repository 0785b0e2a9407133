"""CyberFortune HTTP API (`fortune_api`): Flask app factory `fortune_api.app.create_app`, served by
gunicorn (`python -m fortune_api`).

Importing the package imports nothing else: `python -m fortune_api` must prepare the Prometheus
multiprocess directory before any metric exists."""
