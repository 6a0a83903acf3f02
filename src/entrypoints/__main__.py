"""`python -m entrypoints …` is the same as the `codestory-progress` command."""

from entrypoints.cli import main

raise SystemExit(main())
