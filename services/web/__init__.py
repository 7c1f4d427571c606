"""The HTTP side every service shares: tokens, JSON entrypoints, errors, metrics and OpenAPI."""
