"""Row checks for landing data: declared field rules turned into typed columns and a rejection reason.

Notation: a *parsed* DataFrame has one STRING column per field plus `parse_reason`/`parse_detail`
(set when the line itself could not be read). `check` adds the typed value of each field and
`reason`, `column_name`, `detail` for the first rule a row breaks (null when the row is usable).
Reasons are machine-readable: `missing_<field>`, `invalid_<field>`, `unknown_<field>`, `negative_<field>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

FieldType = Literal["bigint", "double", "date", "timestamp", "string"]

_EXPECTED = {
    "bigint": "an integer",
    "double": "a number",
    "date": "a YYYY-MM-DD date",
    "timestamp": "an ISO-8601 timestamp",
    "string": "text",
}


@dataclass(frozen=True)
class FieldRule:
    """How one landing field is typed and checked."""

    name: str
    type: FieldType
    required: bool = False
    allowed: tuple[str, ...] = ()
    non_negative: bool = False

    def typed(self, raw: Column) -> Column:
        """The field converted to its type; null when absent or unconvertible."""
        text = F.trim(raw)
        if self.type == "string":
            return F.when(text != "", text)
        if self.type == "timestamp":
            return F.try_to_timestamp(text)
        if self.type == "date":
            return F.when(text.rlike(r"^\d{4}-\d{2}-\d{2}$"), F.try_to_timestamp(text).cast("date"))
        return text.try_cast(self.type)


@dataclass(frozen=True)
class Violation:
    """A rule broken by a row: when `condition` holds, the row is rejected with this reason."""

    condition: Column
    reason: str | Column
    column_name: str | None
    detail: Column


def field_violations(rule: FieldRule, raw: Column, typed: Column) -> list[Violation]:
    """The checks one field rule implies, in the order they are reported."""
    name = rule.name
    shown = F.concat(F.lit("'"), F.substring(raw, 1, 80), F.lit("'"))
    blank = raw.isNull() | (F.trim(raw) == "")
    checks: list[Violation] = []
    if rule.required:
        checks.append(Violation(blank, f"missing_{name}", name, F.lit(f"{name} is missing or empty")))
    checks.append(
        Violation(
            ~blank & typed.isNull(),
            f"invalid_{name}",
            name,
            F.concat(F.lit(f"{name} "), shown, F.lit(f" is not {_EXPECTED[rule.type]}")),
        )
    )
    if rule.type == "double":
        checks.append(
            Violation(
                F.isnan(typed) | (F.abs(typed) == float("inf")),
                f"invalid_{name}",
                name,
                F.concat(F.lit(f"{name} "), shown, F.lit(" is not a finite number")),
            )
        )
    if rule.allowed:
        checks.append(
            Violation(
                typed.isNotNull() & ~typed.isin(*rule.allowed),
                f"unknown_{name}",
                name,
                F.concat(F.lit(f"{name} "), shown, F.lit(f" is not one of {', '.join(rule.allowed)}")),
            )
        )
    if rule.non_negative:
        checks.append(
            Violation(
                typed < 0, f"negative_{name}", name, F.concat(F.lit(f"{name} "), shown, F.lit(" is negative"))
            )
        )
    return checks


def _first_broken(violations: Sequence[Violation]) -> tuple[Column, Column, Column]:
    """Reason, column and detail of the first violation that holds (nulls when none does)."""
    reason = column_name = detail = None
    for v in violations:
        values = (
            v.reason if isinstance(v.reason, Column) else F.lit(v.reason),
            F.lit(v.column_name),
            v.detail,
        )
        if reason is None:
            reason, column_name, detail = (F.when(v.condition, value) for value in values)
        else:
            reason, column_name, detail = (
                chain.when(v.condition, value)
                for chain, value in zip((reason, column_name, detail), values, strict=True)
            )
    return reason.cast("string"), column_name.cast("string"), detail.cast("string")


def check(parsed: DataFrame, rules: Sequence[FieldRule], extra: Sequence[Violation] = ()) -> DataFrame:
    """Type every field and name the first broken rule per row.

    Args:
        parsed: Rows with a STRING column per rule, `parse_reason` and `parse_detail`.
        rules: Field rules, checked in order after the parse itself.
        extra: Further violations over the *typed* columns, checked last.

    Returns:
        `parsed` with each field replaced by its typed value and `reason`, `column_name`, `detail` added.
    """
    typed = {rule.name: rule.typed(F.col(rule.name)) for rule in rules}
    parse = Violation(F.col("parse_reason").isNotNull(), F.col("parse_reason"), None, F.col("parse_detail"))
    reason, column_name, detail = _first_broken(
        [parse, *(v for rule in rules for v in field_violations(rule, F.col(rule.name), typed[rule.name]))]
    )
    staged = parsed.select(
        *[c for c in parsed.columns if c not in typed and c not in ("parse_reason", "parse_detail")],
        *[column.alias(name) for name, column in typed.items()],
        reason.alias("reason"),
        column_name.alias("column_name"),
        detail.alias("detail"),
    )
    if not extra:
        return staged
    extra_reason, extra_column, extra_detail = _first_broken(extra)
    usable = F.col("reason").isNull()
    return staged.withColumns(
        {
            "column_name": F.when(usable, extra_column).otherwise(F.col("column_name")),
            "detail": F.when(usable, extra_detail).otherwise(F.col("detail")),
            "reason": F.when(usable, extra_reason).otherwise(F.col("reason")),
        }
    )
