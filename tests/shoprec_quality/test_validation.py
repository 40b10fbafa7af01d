"""Validation suites and `shoprec validate`, against real Sail, Delta and Great Expectations.

One lake per module holds a clean features.user_daily history plus one partition per kind of
corruption (each on its own day), so the GE runs share a session and the writes happen once.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from shoprec import catalog, engine
from shoprec.config import Settings
from shoprec_cli.common import UserFacingError
from shoprec_cli.validate import validate as validate_command
from shoprec_quality import suites, validation
from shoprec_quality.expectation_kwargs import SuiteError
from shoprec_quality.report import ValidationReport

USER_DAILY = catalog.get("features.user_daily")
SUITE_TABLES = (
    "raw.events",
    "clean.events",
    "clean.items",
    "clean.users",
    "features.user_daily",
    "features.item_daily",
    "features.user_category",
    "features.item_cooccurrence",
    "features.user_day_counts",
    "features.item_day_counts",
    "features.user_category_day_counts",
    "features.user_item_day_counts",
    "features.item_pair_day_counts",
    "training.examples",
    "reco.user_recommendations",
    "reco.latest",
    "reco.item_audiences",
)
KINDS = ("views", "clicks", "carts", "favs", "purchases")

FIRST = date(2026, 1, 30)  # previous partition of CLEAN_DAY, so the row-count band is evaluated
CLEAN_DAY = date(2026, 1, 31)
SHRUNK_DAY = date(2026, 2, 1)  # clean but far fewer rows than CLEAN_DAY: a warning only
USERS = 10

Row = dict[str, Any]


def user_daily_row(user_id: int | None, day: date) -> Row:
    """A consistent features.user_daily row: windows nested, rates in [0, 1]."""
    row: Row = {"user_id": user_id, "as_of_date": day}
    for kind in KINDS:
        row.update({f"{kind}_1d": 1, f"{kind}_7d": 2, f"{kind}_30d": 3})
    row.update(
        distinct_items_30d=3,
        distinct_categories_30d=2,
        active_days_30d=3,
        days_since_last_event=0,
        days_since_last_purchase=None,
        click_rate_30d=0.5,
        cart_rate_30d=0.25,
        purchase_rate_30d=0.1,
        spend_30d=10.0,
        avg_price_paid_30d=5.0,
        top_category_1=7,
        top_category_2=None,
        top_category_3=None,
    )
    return row


def set_first(column: str, value: object) -> Callable[[list[Row]], list[Row]]:
    """A corruption setting one column of the first row."""

    def corrupt(rows: list[Row]) -> list[Row]:
        rows[0][column] = value
        return rows

    return corrupt


# (id, corruption of a clean partition, expectation and column the failure must name)
CORRUPTIONS: list[tuple[str, Callable[[list[Row]], list[Row]], str]] = [
    ("null_key", set_first("user_id", None), "ExpectColumnValuesToNotBeNull on user_id"),
    ("duplicate_key", set_first("user_id", 2), "ExpectColumnValuesToBeUnique on user_id"),
    ("negative_count", set_first("views_1d", -1), "ExpectColumnValuesToBeBetween on views_1d"),
    (
        "windows_not_nested",
        set_first("views_1d", 5),
        "ExpectColumnPairValuesAToBeGreaterThanB on views_7d, views_1d",
    ),
    ("rate_above_one", set_first("click_rate_30d", 1.5), "ExpectColumnValuesToBeBetween on click_rate_30d"),
    ("empty_partition", lambda rows: [], "ExpectTableRowCountToBeBetween [partition_not_empty]"),
]
CORRUPT_DAYS = {name: SHRUNK_DAY + timedelta(days=i) for i, (name, _, _) in enumerate(CORRUPTIONS, start=1)}


def write_user_daily(spark: SparkSession, settings: Settings, day: date, rows: list[Row]) -> None:
    """Replace one as_of_date partition of features.user_daily with `rows`."""
    tuples = [tuple(r[c] for c in USER_DAILY.column_names) for r in rows]
    df = spark.createDataFrame(tuples, engine.spark_schema(USER_DAILY))
    engine.replace_partition(df, USER_DAILY, settings, {"as_of_date": day})


@pytest.fixture(scope="module")
def lake_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One SHOPREC_HOME for the module."""
    return Settings(home=tmp_path_factory.mktemp("validation") / "home")


@pytest.fixture(scope="module")
def lake(sail_url: str, lake_settings: Settings) -> Iterator[SparkSession]:
    """A session on the shared Sail server over a lake holding every test partition."""
    spark = engine.connect(sail_url, lake_settings, "shoprec-tests-validation")
    for day, users in ((FIRST, USERS), (CLEAN_DAY, USERS), (SHRUNK_DAY, 3)):
        write_user_daily(spark, lake_settings, day, [user_daily_row(u, day) for u in range(1, users + 1)])
    for name, corrupt, _ in CORRUPTIONS:
        day = CORRUPT_DAYS[name]
        write_user_daily(
            spark, lake_settings, day, corrupt([user_daily_row(u, day) for u in range(1, USERS + 1)])
        )
    yield spark
    spark.stop()


@pytest.fixture(scope="module")
def clean_report(lake: SparkSession, lake_settings: Settings) -> ValidationReport:
    """The validation of the clean partition, shared by the tests that inspect it."""
    return validation.validate(lake, lake_settings, "features.user_daily", CLEAN_DAY)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, sail_url: str, lake_settings: Settings) -> None:
    """Point the CLI's settings at the module's lake and the shared Sail server."""
    monkeypatch.setenv("SHOPREC_HOME", str(lake_settings.home))
    monkeypatch.setenv("SHOPREC_SPARK_REMOTE", sail_url)


# --- suite files (no Spark) ---------------------------------------------------------------------


@pytest.mark.parametrize("table_name", SUITE_TABLES)
def test_suite_file_loads_and_names_only_catalog_columns(table_name: str) -> None:
    suite = suites.load_suite(suites.suite_path(table_name, Settings().suites))
    assert suite.table.name == table_name
    for entry in suite.entries:
        assert set(entry.columns) <= set(suite.table.column_names), entry
        assert entry.why


def test_every_suite_file_belongs_to_a_catalog_table() -> None:
    names = {p.name.removesuffix(".yaml") for p in Settings().suites.glob("*.yaml")}
    assert names == set(SUITE_TABLES)


def write_suite(folder: Path, entry: str, table: str = "features.user_daily") -> Path:
    path = folder / f"{table}.yaml"
    path.write_text(f"table: {table}\nexpectations:\n{entry}")
    return path


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "  - expectation: ExpectColumnValuesToBeShiny\n    kwargs: {column: user_id}\n",
            "entry 1 (ExpectColumnValuesToBeShiny): unknown Great Expectations expectation",
        ),
        (
            "  - expectation: ExpectColumnValuesToNotBeNull\n    kwargs: {column: shoe_size}\n",
            "entry 1 (ExpectColumnValuesToNotBeNull): column(s) ['shoe_size'] not in features.user_daily",
        ),
        (
            "  - expectation: ExpectColumnValuesToBeBetween\n    kwargs: {min_value: 0}\n",
            "entry 1 (ExpectColumnValuesToBeBetween): invalid kwargs: column: field required",
        ),
        (
            "  - check: partition_is_lovely\n",
            "entry 1 (partition_is_lovely): unknown check",
        ),
    ],
    ids=["unknown_expectation", "unknown_column", "missing_kwarg", "unknown_check"],
)
def test_bad_suite_entry_fails_naming_file_and_entry(tmp_path: Path, entry: str, message: str) -> None:
    path = write_suite(tmp_path, entry + "    severity: blocking\n    why: testing\n")
    with pytest.raises(SuiteError) as caught:
        suites.load_suite(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_suite_entry_needs_severity_and_why(tmp_path: Path) -> None:
    path = write_suite(tmp_path, "  - check: partition_not_empty\n    severity: fatal\n    why: x\n")
    with pytest.raises(SuiteError, match="entry 1: severity must be one of"):
        suites.load_suite(path)
    path = write_suite(tmp_path, "  - check: partition_not_empty\n    severity: warning\n")
    with pytest.raises(SuiteError, match="entry 1: a `why:` note is required"):
        suites.load_suite(path)


# --- validating partitions ------------------------------------------------------------------------


def test_clean_partition_passes(clean_report: ValidationReport) -> None:
    failed = [r.describe() for r in clean_report.results if not r.success]
    assert failed == []
    assert not clean_report.blocking_failed
    suite = suites.load_suite(suites.suite_path("features.user_daily", Settings().suites))
    assert len(clean_report.results) == len(suite.entries)
    band = next(r for r in clean_report.results if r.check == "row_count_vs_previous")
    assert band.observed == "10"
    assert "previous partition 2026-01-30 has 10 rows" in band.note
    assert clean_report.summary().startswith(
        "features.user_daily 2026-01-31: 43 expectations, 0 blocking failures, 0 warnings; data docs: "
    )


def test_results_land_in_ops_validation_results(lake: SparkSession, clean_report: ValidationReport) -> None:
    rows = lake.table("ops.validation_results").where(f"run_id = '{clean_report.run_id}'").collect()
    assert len(rows) == len(clean_report.results)
    assert {(r.table_name, r.partition_value) for r in rows} == {("features.user_daily", "2026-01-31")}
    assert all(r.success for r in rows)
    assert {r.severity for r in rows} == {"blocking", "warning"}
    nested = [r for r in rows if r.expectation == "ExpectColumnPairValuesAToBeGreaterThanB"]
    assert len(nested) == 10
    assert "views_7d,views_1d" in {r.column_name for r in nested}


def test_data_docs_are_built_under_home(clean_report: ValidationReport, lake_settings: Settings) -> None:
    assert clean_report.data_docs is not None
    assert clean_report.data_docs.name == "index.html"
    assert clean_report.data_docs.is_file()
    assert clean_report.data_docs.is_relative_to(lake_settings.home.resolve() / "gx")


def test_first_partition_skips_row_count_band(lake: SparkSession, lake_settings: Settings) -> None:
    report = validation.validate(lake, lake_settings, "features.user_daily", FIRST)
    band = next(r for r in report.results if r.check == "row_count_vs_previous")
    assert band.success
    assert band.note == "skipped: no earlier non-empty partition"
    assert not report.blocking_failed


@pytest.mark.usefixtures("lake", "cli_env")
@pytest.mark.parametrize(
    ("name", "named"), [(c[0], c[2]) for c in CORRUPTIONS], ids=[c[0] for c in CORRUPTIONS]
)
def test_corrupted_partition_fails_naming_expectation_and_column(
    name: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    day = CORRUPT_DAYS[name]
    with pytest.raises(UserFacingError) as caught:
        validate_command(tables=["features.user_daily"], day=day.isoformat())
    message = str(caught.value)
    assert message.startswith(f"validation failed for features.user_daily {day}: ")
    assert "blocking expectation(s) failed: " in message
    assert named in message
    out = capsys.readouterr().out
    assert f"BLOCKING {named.split(' on ')[0]}" in out


@pytest.mark.usefixtures("lake", "cli_env")
def test_row_count_far_from_previous_is_only_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    validate_command(tables=["features.user_daily"], day=SHRUNK_DAY.isoformat())
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(
        "WARNING ExpectTableRowCountToBeBetween [row_count_vs_previous]: observed 3; "
        "previous partition 2026-01-31 has 10 rows"
    )
    assert out[-1].startswith(
        "features.user_daily 2026-02-01: 43 expectations, 0 blocking failures, 1 warning; data docs: "
    )


@pytest.mark.usefixtures("cli_env")
def test_unknown_table_fails_clearly() -> None:
    with pytest.raises(UserFacingError, match=re.escape("unknown table 'features.nope'; known tables: ")):
        validate_command(tables=["features.user_daily", "features.nope"], day="2026-01-31")


def test_one_command_validates_several_tables_and_reports_every_failure(
    spark: SparkSession,
    settings: Settings,
    sail_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    day = date(2026, 1, 2)
    write_user_daily(spark, settings, day, [user_daily_row(u, day) for u in range(1, USERS + 1)])
    items = catalog.get("clean.items")
    current = [(i, 5, None, 9.5, day, day, day, None, True) for i in (1, 2)]
    engine.overwrite(spark.createDataFrame(current * 2, engine.spark_schema(items)), items, settings)
    monkeypatch.setenv("SHOPREC_HOME", str(settings.home))
    monkeypatch.setenv("SHOPREC_SPARK_REMOTE", sail_url)
    with pytest.raises(UserFacingError) as caught:
        validate_command(tables=["features.user_daily", "clean.items"], day=day.isoformat())
    out = capsys.readouterr().out
    assert f"features.user_daily {day}: 43 expectations, 0 blocking failures" in out
    # the unpartitioned table is validated whole: --date applies to the partitioned ones
    assert "clean.items: " in out
    assert str(caught.value).startswith("validation failed for clean.items: ")
    assert "ExpectColumnValuesToBeUnique on item_id" in str(caught.value)  # every item is current twice


def test_scd_table_needs_exactly_one_current_row_per_key(spark: SparkSession, settings: Settings) -> None:
    items = catalog.get("clean.items")
    day = date(2026, 1, 1)
    rows = [
        # item 1: a closed period and the current one; item 2: two current rows; item 3: none current
        (1, 5, None, 9.5, day, day, day, day + timedelta(days=3), False),
        (1, 5, None, 8.5, day, day, day + timedelta(days=3), None, True),
        (2, 5, None, 1.0, day, day, day, None, True),
        (2, 5, None, 1.5, day, day, day + timedelta(days=1), None, True),
        (3, 6, None, 2.0, day, day, day, day + timedelta(days=2), False),
    ]
    engine.overwrite(spark.createDataFrame(rows, engine.spark_schema(items)), items, settings)
    report = validation.validate(spark, settings, "clean.items")
    failed = {(r.expectation, r.columns) for r in report.blocking_failures}
    assert failed == {
        ("ExpectColumnValuesToBeUnique", ("item_id",)),  # item 2 is current twice
        ("ExpectColumnUniqueValueCountToBeBetween", ("item_id",)),  # item 3 has no current row
    }


def test_unique_key_names_each_duplicated_key_with_its_rows(
    spark: SparkSession, settings: Settings, tmp_path: Path
) -> None:
    entry = "  - check: unique_key\n    kwargs: {column_list: [user_id, as_of_date]}\n"
    write_suite(tmp_path, entry + "    severity: blocking\n    why: one row per user and day\n")
    day = date(2026, 1, 3)
    rows = [user_daily_row(u, day) for u in (1, 2, 2, 3, 3, 3)]
    tuples = [tuple(r[c] for c in USER_DAILY.column_names) for r in rows]
    frame = spark.createDataFrame(tuples, engine.spark_schema(USER_DAILY))
    report = validation.validate(spark, settings, USER_DAILY.name, day, tmp_path, rows=frame)
    (result,) = report.results
    assert (result.check, result.columns, result.success) == ("unique_key", ("user_id", "as_of_date"), False)
    assert result.describe() == (
        "BLOCKING UnexpectedRowsExpectation [unique_key]: column user_id, as_of_date; observed 2; "
        "counts the keys that have more than one row"
    )
    unique = frame.dropDuplicates(["user_id"])
    assert not validation.validate(
        spark, settings, USER_DAILY.name, day, tmp_path, rows=unique
    ).blocking_failed


@pytest.mark.usefixtures("lake", "cli_env")
def test_shoprec_validate_command_exits_non_zero_on_blocking_failure() -> None:
    shoprec = Path(sys.executable).with_name("shoprec")
    day = CORRUPT_DAYS["null_key"].isoformat()
    done = subprocess.run(
        [shoprec, "validate", "--table", "features.user_daily", "--date", day],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "BLOCKING ExpectColumnValuesToNotBeNull: column user_id" in done.stdout
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"error: validation failed for features.user_daily {day}: 1 blocking expectation(s) failed: "
            "ExpectColumnValuesToNotBeNull on user_id"
        )
    )
