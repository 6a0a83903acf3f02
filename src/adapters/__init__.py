"""Adapters: the ports of `domain` over Redis, PostgreSQL, JWT, Prometheus, and in memory."""
