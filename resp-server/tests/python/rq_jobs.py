"""Job functions for the RQ test (workers import them by name)."""

import os


def add(a, b):
    return a + b


def fail(message):
    raise ValueError(message)


def flaky(marker_path):
    """Fails the first time it runs (leaving a marker file), succeeds the next time."""
    if not os.path.exists(marker_path):
        with open(marker_path, "w") as f:
            f.write("failed once")
        raise RuntimeError("transient failure")
    return "recovered"
