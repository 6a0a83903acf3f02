"""Benchmarks of the gateway on loopback, against the real `serve`, Redis and PostgreSQL (`make bench`)."""
