"""CyberFortune shared library (`fortune_core`): what the API, the worker and the operator share."""

__version__ = "0.1.0"
