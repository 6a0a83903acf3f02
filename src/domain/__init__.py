"""The gateway's core: progress model, ports and services. Pure Python, no I/O of its own."""
