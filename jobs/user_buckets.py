"""User buckets: splitting per-user work into hash buckets sized to the memory shoprec may use.

Candidates, their feature rows and scoring grow with the active users; a bucket holds the users
whose `xxhash64(user_id)` falls in it, so each bucket's work is an equal slice of the whole and
results do not depend on the bucket count (tested: bucketed equals unbucketed).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

# Working set of one active user's candidates, scoring rows and scores (about 90 candidates of some
# 40 columns, plus the history they are built from): the medium demo's buckets of 77k users peaked
# at 4.5 GB, about 40 kB per user over a 1.5 GB base (README); half as much again for headroom.
BYTES_PER_ACTIVE_USER = 60_000
# The same for a user labelled in training examples (the day's most active users, with longer
# histories and candidate lists): examples at medium peaked at 0.7 GB plus about 120 kB per user
# of a bucket (README); half as much again for headroom.
BYTES_PER_LABELLED_USER = 180_000
# Share of SHOPREC_MEMORY_GB one bucket may take: the engine's caches, the model and the
# operating system need the rest.
BUCKET_MEMORY_SHARE = 0.25


@dataclass(frozen=True)
class UserBucket:
    """Bucket `index` of `count`: the users with pmod(xxhash64(user_id), count) == index."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"user bucket {self.index} of {self.count} does not exist")

    def contains(self, user_id: Column) -> Column:
        """True for the rows whose user falls in this bucket."""
        return F.pmod(F.xxhash64(user_id), F.lit(self.count)) == F.lit(self.index)

    def __str__(self) -> str:
        return f"bucket {self.index + 1}/{self.count}"


def bucket_count(users: int, memory_bytes: int, bytes_per_user: int = BYTES_PER_ACTIVE_USER) -> int:
    """Buckets needed so one bucket's users fit BUCKET_MEMORY_SHARE of `memory_bytes` (at least 1)."""
    if memory_bytes <= 0:
        raise ValueError(f"memory for buckets must be positive, got {memory_bytes} bytes")
    need = users * bytes_per_user
    return max(1, math.ceil(need / (memory_bytes * BUCKET_MEMORY_SHARE)))


def buckets(count: int) -> Iterator[UserBucket]:
    """Every bucket of `count`, in order."""
    if count < 1:
        raise ValueError(f"bucket count must be at least 1, got {count}")
    for index in range(count):
        yield UserBucket(index, count)
