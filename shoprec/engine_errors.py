"""Engine failures as one readable line that names the table or step: `EngineError`, `naming`, `first_line`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class EngineError(RuntimeError):
    """The Spark engine could not be started or reached, or failed on a named table or step."""


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (engine errors carry long server traces)."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


@contextmanager
def naming(target: str) -> Iterator[None]:
    """Re-raise an engine failure inside the block as an EngineError naming `target` (a table or step).

    Spark evaluates lazily, so a failure (a division by zero, a bad cast) surfaces at the action that
    writes a table; this is where the table is known: `features.item_daily: [DIVIDE_BY_ZERO] …`.
    """
    from pyspark.errors import PySparkException

    try:
        yield
    except PySparkException as exc:
        raise EngineError(f"{target}: {first_line(exc)}") from exc
