"""The progress hub: one broker subscription per process, fanned out to its subscribers."""
