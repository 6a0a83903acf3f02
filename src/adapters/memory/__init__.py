"""In-memory adapters of every port: complete enough for the unit tests and the demo to run on them.

They record what happened (`published`, `sent`, `counts`) so tests assert outcomes, and they can
be broken on purpose (`fail()` / `recover()`) to show how the services cope.
"""

from adapters.memory.broker import MemoryBroker
from adapters.memory.client_socket import MemorySocket
from adapters.memory.directory import MemoryStoryDirectory
from adapters.memory.metrics import MemoryMetrics
from adapters.memory.signals import MemoryWorkerSignals
from adapters.memory.tokens import MemoryTokens

__all__ = [
    "MemoryBroker",
    "MemoryMetrics",
    "MemorySocket",
    "MemoryStoryDirectory",
    "MemoryTokens",
    "MemoryWorkerSignals",
]
