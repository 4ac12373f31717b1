"""Contract suite: the same scenarios against the local cloud and against real OpenStack."""
