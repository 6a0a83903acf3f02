"""Async helpers of no concept of their own: batched reads, supervised tasks, backoff, futures."""
