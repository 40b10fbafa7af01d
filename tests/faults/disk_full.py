"""One write that runs out of space, then the same write with space again; prints what happened as JSON.

Run as `python -m tests.faults.disk_full MODE LAKE SOURCE_LAKE`:

- `tmpfs`: LAKE is on a small tmpfs (the caller mounts it in a private mount namespace, `unshare -rm`);
  the space left is filled up to 256 KiB, so the write's data files hit ENOSPC;
- `fsize`: where no filesystem can be mounted, RLIMIT_FSIZE is lowered to 256 KiB around the write:
  a file growing past it fails with EFBIG (SIGXFSZ is ignored by Python), the same failure at the
  same place (a data file being written) but not a full disk: other processes could still write.

Both copy features.user_daily from SOURCE_LAKE into LAKE and replace its 2026-01-08 partition with
400 copies of its rows with distinct rates and spend (several MB of Parquet) on an embedded Sail.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from deltalake import DeltaTable
from pyspark.sql import functions as F

from shoprec import catalog, engine, lake_check
from shoprec.config import Settings
from shoprec.engine_errors import EngineError

TABLE = catalog.USER_DAILY
DAY = date(2026, 1, 8)
LEFT = 256 * 1024
NOISY = ("click_rate_30d", "cart_rate_30d", "purchase_rate_30d", "spend_30d", "avg_price_paid_30d")


@contextmanager
def no_room(mode: str, lake: Path):
    """Leave only LEFT bytes for the block's writes."""
    if mode == "tmpfs":
        filler = lake / "filler"
        stat = os.statvfs(lake)
        with open(filler, "wb") as out:
            out.write(b"\0" * max(stat.f_bavail * stat.f_frsize - LEFT, 0))
        try:
            yield
        finally:
            filler.unlink()
    else:
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (LEFT, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def state(settings: Settings) -> tuple[int, int]:
    dt = DeltaTable(str(TABLE.location(settings.lake)))
    return dt.version(), len(dt.to_pandas(filters=[("as_of_date", "=", DAY)]))


def main(mode: str, lake: Path, source: Path) -> None:
    settings = Settings(home=lake.parent / "home", lake_dir=lake)
    shutil.copytree(TABLE.location(source), TABLE.location(settings.lake))
    report: dict[str, object] = {"mode": mode}
    with engine.session(settings) as spark, engine.scratch(spark, settings) as scratch:
        report["before"] = state(settings)
        rows = scratch.materialize(
            engine.read(spark, TABLE, settings).where(engine.partition_predicate(TABLE, {"as_of_date": DAY})),
            "rows",
        )
        big = rows.crossJoin(spark.range(400))
        big = big.withColumns(
            {c: F.sin(F.col("id") * (i + 1) + F.col("user_id")) for i, c in enumerate(NOISY)}
        )
        with no_room(mode, settings.lake):
            try:
                engine.replace_partition(big, TABLE, settings, {"as_of_date": DAY})
                report["error"] = None
            except EngineError as exc:
                report["error"] = str(exc)
        report["after_failure"] = state(settings)
        checked = lake_check.check_table(TABLE, settings)
        report["problems"], report["unreferenced"] = checked.problems, checked.unreferenced
        engine.replace_partition(rows, TABLE, settings, {"as_of_date": DAY})
        report["after_retry"] = state(settings)
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
