"""Suite entry kwargs: the Great Expectations class a name stands for, built from kwargs, and the columns named.

Every problem a suite file can have is a `SuiteError` naming the file and the entry.
GE is imported inside functions only: importing it takes seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shoprec.catalog import Table

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

# Kwargs of GE expectations that name columns; checked against the catalog when a suite loads.
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_COLUMN_LIST_KWARGS = ("column_list",)


class SuiteError(ValueError):
    """A suite file is invalid, or a validation cannot run (unknown table, missing partition date)."""


def named_columns(kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    """The columns an expectation's kwargs name, in kwarg order."""
    named = [kwargs[k] for k in _COLUMN_KWARGS if k in kwargs]
    for key in _COLUMN_LIST_KWARGS:
        named += kwargs.get(key, [])
    return tuple(named)


def check_columns(kwargs: Mapping[str, Any], table: Table, where: str) -> None:
    """Every column a kwarg names must be declared in the catalog."""
    named = [kwargs[k] for k in _COLUMN_KWARGS if k in kwargs]
    for key in _COLUMN_LIST_KWARGS:
        if key in kwargs:
            if not isinstance(kwargs[key], list):
                raise SuiteError(f"{where}: `{key}` must be a list of columns")
            named += kwargs[key]
    unknown = [c for c in named if c not in table.column_names]
    if unknown:
        raise SuiteError(f"{where}: column(s) {unknown} not in {table.name} (see shoprec/catalog.py)")


def expectation_class(name: str, where: str) -> type[Expectation]:
    """The GE 1.x expectation class called `name`."""
    import great_expectations.expectations as gxe

    cls = getattr(gxe, name, None)
    if not (isinstance(cls, type) and issubclass(cls, gxe.Expectation)) or cls is gxe.Expectation:
        raise SuiteError(f"{where}: unknown Great Expectations expectation {name!r}")
    return cls


def build_expectation(name: str, kwargs: Mapping[str, Any], where: str, **extra: Any) -> Expectation:
    """Instantiate a GE expectation; pydantic's complaints (missing, unknown, mistyped kwargs) become one line."""
    import pydantic.v1

    cls = expectation_class(name, where)
    try:
        return cls(**kwargs, **extra)
    except (pydantic.v1.ValidationError, ValueError, TypeError) as exc:
        problems = (
            [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            if isinstance(exc, pydantic.v1.ValidationError)
            else [str(exc)]
        )
        raise SuiteError(f"{where}: invalid kwargs: {'; '.join(problems)}") from None
