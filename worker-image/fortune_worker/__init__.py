"""CyberFortune worker: consumes fortune requests from RabbitMQ, asks the provider (the offline
almanac or an OpenAI-compatible LLM) for the reading, stores it in MongoDB and Redis."""
