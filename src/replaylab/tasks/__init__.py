"""Per-task glue. The four tasks every per-task stage (``cache_clips@<task>``, ``split@<task>``, ...) runs for."""

from __future__ import annotations

TASKS = ("header", "foul", "actions", "recognition")


def task_from_argv(argv: list[str], stage: str) -> str:
    """The task named on a stage script's command line (``python stages/<stage>.py <task>``)."""
    if len(argv) != 2 or argv[1] not in TASKS:
        got = " ".join(argv[1:]) or "nothing"
        raise SystemExit(f"usage: python stages/{stage}.py {{{','.join(TASKS)}}} (got {got})")
    return argv[1]
