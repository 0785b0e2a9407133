"""Fakes for what the tests cannot reach: an OpenAI-compatible LLM server."""
