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
LABELS_FROM = $(shell $(PYTHON) -c "import datetime as d; print(d.date.fromisoformat('$(RUN_DATE)') - d.timedelta(days=$(TRAIN_DAYS)))")
FEATURES_FROM = $(shell $(PYTHON) -c "import datetime as d; print(d.date.fromisoformat('$(RUN_DATE)') - d.timedelta(days=$(TRAIN_DAYS) + 1))")
TRAIN_ARGS ?= --batch-size 256 --embedding-dim 16 --epochs 3

.PHONY: install run test test-fast lint bench clean

install: $(STAMP)

# torch first: pip takes the local CPU wheel of 2.13.0 (a resolver left alone may pick a multi-GB CUDA build).
# torchrec with --no-deps: its metadata asks for the CUDA fbgemm-gpu; fbgemm-gpu-cpu is in the project deps.
# Bytecode is compiled at install time because PYTHONDONTWRITEBYTECODE may be set (slow Airflow/GE imports).
$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24" wheel
	$(PIP) install --quiet -c requirements/constraints.txt "torch==2.13.0"
	$(PIP) install --quiet -c requirements/constraints.txt -e ".[dev]"
	$(PIP) install --quiet --no-deps "torchrec==1.8.0"
	$(PY) -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	touch $(STAMP)

run: install
	$(VENV)/bin/shoprec demo-data --scale $(SCALE) --start $(START) --days $(DAYS)
	$(VENV)/bin/shoprec ingest --start $(START) --end $(END)
	$(VENV)/bin/shoprec clean --start $(START) --end $(END)
	$(VENV)/bin/shoprec features --start $(FEATURES_FROM) --end $(RUN_DATE)
	for table in raw.events clean.events features.user_daily features.item_daily features.user_category features.item_cooccurrence; do \
		$(VENV)/bin/shoprec validate --table $$table --date $(RUN_DATE) || exit 1; done
	$(VENV)/bin/shoprec validate --table clean.items
	$(VENV)/bin/shoprec examples --start $(LABELS_FROM) --end $(RUN_DATE)
	$(VENV)/bin/shoprec validate --table training.examples --date $(RUN_DATE)
	$(VENV)/bin/shoprec train --date $(RUN_DATE) --days $(TRAIN_DAYS) $(TRAIN_ARGS)
	$(VENV)/bin/shoprec models list
	$(VENV)/bin/shoprec recommend --date $(RUN_DATE)
	$(VENV)/bin/shoprec evaluate --date $(RUN_DATE)
	$(VENV)/bin/shoprec sql "SELECT user_id, rank, item_id, round(score, 3) AS score, reason FROM reco.latest WHERE user_id IN (SELECT min(user_id) FROM reco.latest UNION ALL SELECT max(user_id) FROM reco.latest WHERE reason NOT LIKE 'cold_start%') AND rank <= 5 ORDER BY user_id, rank"

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

test-fast: install
	$(VENV)/bin/pytest -m "not slow"

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
