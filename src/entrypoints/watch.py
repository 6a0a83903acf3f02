"""`codestory-progress watch` is the client distribution's `codestory-progress-watch`.

The gateway depends on `codestory-progress-client[watch]`; this is the one hook cli.py uses.
"""

from codestory_progress_client.watch import add_watch_command

__all__ = ["add_watch_command"]
