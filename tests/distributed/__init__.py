"""The distributed path: a Prefect server, a process work pool, a worker, on loopback."""
