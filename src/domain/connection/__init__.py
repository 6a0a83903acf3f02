"""One client connection: its session, outbox, frames from the client, timer and log context."""
