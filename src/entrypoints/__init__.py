"""Entrypoints: the Litestar app, the composition root, the server and the command line."""
