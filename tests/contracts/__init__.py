"""Contract tests of the ports: one suite per port, run over the in-memory fake (unit layer) and
over the real adapter (integration layer), so the fake cannot drift from what production does."""
