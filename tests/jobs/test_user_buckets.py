"""User buckets: sizing from memory, and every user in exactly one bucket (on real Sail)."""

from __future__ import annotations

import math

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import user_buckets


def test_the_bucket_count_grows_with_the_users_and_shrinks_with_memory() -> None:
    one_bucket = int(user_buckets.BUCKET_MEMORY_SHARE * 2**30 / user_buckets.BYTES_PER_ACTIVE_USER)
    assert user_buckets.bucket_count(0, 2**30) == 1
    assert user_buckets.bucket_count(one_bucket, 2**30) == 1
    assert user_buckets.bucket_count(one_bucket + 1, 2**30) == 2
    assert user_buckets.bucket_count(one_bucket + 1, 2 * 2**30) == 1
    labelled = user_buckets.BYTES_PER_LABELLED_USER
    assert user_buckets.bucket_count(one_bucket, 2**30, labelled) == math.ceil(
        one_bucket * labelled / (user_buckets.BUCKET_MEMORY_SHARE * 2**30)
    )


def test_bad_counts_and_memory_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(user_buckets.buckets(0))
    with pytest.raises(ValueError, match="does not exist"):
        user_buckets.UserBucket(3, 3)
    with pytest.raises(ValueError, match="positive"):
        user_buckets.bucket_count(10, 0)


def test_every_user_falls_in_exactly_one_bucket(spark: SparkSession) -> None:
    users = spark.range(0, 1000).withColumnRenamed("id", "user_id")
    counts = [users.where(bucket.contains(F.col("user_id"))).count() for bucket in user_buckets.buckets(4)]
    assert sum(counts) == 1000
    assert min(counts) > 200
