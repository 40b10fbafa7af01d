# shoprec: `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIP := $(PY) -m pip --disable-pip-version-check
SCALE ?= tiny
START ?= 2026-01-01
DAYS ?= 14
END ?= $(shell $(PYTHON) -c "import datetime as d; print(d.date.fromisoformat('$(START)') + d.timedelta(days=$(DAYS) - 1))")
TRAIN_DAYS ?= 6
# recommendations are made for RUN_DATE (the day before the last) so the last day's events can judge them;
# the model trains on label days RUN_DATE-TRAIN_DAYS..RUN_DATE-1 (features as of the day before each)
RUN_DATE = $(shell $(PYTHON) -c "import datetime as d; print(d.date.fromisoformat('$(END)') - d.timedelta(days=1))")
# shoprec_daily params for the small demo shop (the DAG's defaults suit real traffic)
TRAIN_PARAMS ?= "batch_size": 256, "embedding_dim": 16, "epochs": 3

# Debian's Chromium for the end-to-end UI test (Playwright drives it; no browser download at run time)
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser run test test-fast fuzz lint bench clean spark-engine spark-server s3-server

install: $(STAMP)

browser: $(CHROMIUM)

$(CHROMIUM):
	$(SUDO) apt-get install -y -qq chromium || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)

# torch first, pinned: PyPI's 2.13.0 build (CUDA libraries included, a few GB; pip's cache keeps reinstalls fast).
# torchrec with --no-deps: its metadata asks for the CUDA fbgemm-gpu; fbgemm-gpu-cpu is in the project deps.
# Bytecode is compiled at install time because PYTHONDONTWRITEBYTECODE may be set (slow Airflow/GE imports).
$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24" wheel
	$(PIP) install --quiet -c requirements/constraints.txt "torch==2.13.0"
	$(PIP) install --quiet -c requirements/constraints.txt -e ".[dev]"
	$(PIP) install --quiet --no-deps "torchrec==1.8.0"
	bash infra/catalog/install.sh  # the local Hive Metastore's jars from Maven Central (cached; Java 17 + Maven)
	$(PY) -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	touch $(STAMP)

# The whole pipeline runs as the real `shoprec_daily` DAG (`airflow dags test`, no scheduler needed):
# day RUN_DATE rebuilds the lake from START and trains; day END reuses the champion (weekly cadence),
# recommends, and evaluates RUN_DATE's recommendations on END's carts and purchases.
run: install
	$(VENV)/bin/shoprec demo-data --scale $(SCALE) --start $(START) --days $(DAYS)
	$(VENV)/bin/shoprec airflow run --date $(RUN_DATE) --conf '{"rebuild_from": "$(START)", "train_days": $(TRAIN_DAYS), $(TRAIN_PARAMS)}'
	$(VENV)/bin/shoprec airflow run --date $(END) --conf '{"train_days": $(TRAIN_DAYS), $(TRAIN_PARAMS)}'
	$(VENV)/bin/shoprec models list
	$(VENV)/bin/shoprec sql "SELECT method, users, round(recall, 3) AS recall_at_20, round(ndcg, 3) AS ndcg_at_20, round(coverage, 3) AS coverage FROM ops.eval_metrics WHERE run_date = DATE '$(RUN_DATE)' AND k = 20 AND horizon_days = 1 ORDER BY ndcg DESC"
	$(VENV)/bin/shoprec sql "SELECT run_date, user_id, rank, item_id, round(score, 3) AS score, reason FROM reco.latest WHERE user_id IN (SELECT min(user_id) FROM reco.latest UNION ALL SELECT max(user_id) FROM reco.latest WHERE reason NOT LIKE 'cold_start%') AND rank <= 5 ORDER BY user_id, rank"

# The second engine, Apache Spark 4 Connect + delta-spark, in its own venv (.venv-spark) with the Delta jars from
# Maven Central (cached; a no-op once installed): the engine tests (tests/engines, marker `spark`) run on it.
spark-engine:
	bash infra/spark/install.sh

# A Spark Connect server over Apache Spark + Delta on sc://127.0.0.1:15002, in the foreground (infra/README.md)
spark-server: spark-engine
	bash infra/spark/serve.sh

# The local S3 server (versitygw, built from its pinned Go module; cached, a no-op once built) that the tests of a
# lake on object storage run against (tests/s3_server.py, infra/objectstore).
s3-server:
	bash infra/objectstore/install.sh

test: install spark-engine s3-server $(CHROMIUM)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

test-fast: install spark-engine s3-server
	$(VENV)/bin/pytest -m "not slow"

# `shoprec land` under a longer atheris run than make test's seeded seconds (FUZZ_SECONDS, default 10 minutes)
FUZZ_SECONDS ?= 600
fuzz: install
	PYTHONPATH=. $(PY) tests/jobs/fuzz_land.py -max_total_time=$(FUZZ_SECONDS) -timeout=60

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(PY) benchmarks/ingest_medium.py
	$(PY) benchmarks/features_medium.py
	$(PY) benchmarks/examples_medium.py
	$(PY) benchmarks/train_medium.py --home .shoprec-bench/medium
	$(PY) benchmarks/recommend_medium.py --home .shoprec-bench/medium

clean:
	rm -rf .shoprec .pytest_cache .ruff_cache
