"""`shoprec train`: prepare a run, train it under torchrun, export, evaluate, register, promote.

For a date D the model trains on label days D-days..D-1 and is validated on label day D (features
always as of the day before each label day). The run directory is named after D and a fingerprint
of everything that decides the result (options, architecture, feature spec, examples version), so
running the same command again resumes an interrupted run from its last checkpoint, or reports the
already registered model instead of training a duplicate.

Promotion: the new version becomes champion unless the current champion, scored on the same
validation day, has a higher AUC.

Training length: with ``choose_epochs`` the run trains at most ``epochs`` passes, as many as the
data supports. The last training day is held out, a first run trains on the days before it with a
checkpoint per epoch, and the epoch count whose model scores the best AUC on the held-out day is the
one the real run trains for, on every training day. On small logs the embedding tables memorise
the examples within a few epochs, so a fixed count is either too short for a large shop or too long
for a small one; neither the validation day D nor anything after it takes part in the choice.

Ensembles: with ``members`` N > 1 the run trains N rankers alike but for their seeds (seed, seed+1,
...; the first in the run directory, the others in ``member_<k>`` under it, all with one spec and
epoch count) and registers them as one model scoring the mean of their probabilities
(`models.score.Ranker`). Left unset, N follows the training rows (`models.ensemble`).

`run` does it all on this machine. On a cluster the same run is three stages with the same options:
`prepare` (write the run directory on the shared ``SHOPREC_HOME``), the ranks on N nodes
(``torchrun -m models.train --config RUN_DIR/train_config.json``, see `models.train`), then `register`
(export, evaluate, register, promote).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from models import quiet_library_logs
from models import registry as model_registry
from models.auc import Metrics, evaluate
from models.data import DataError, Examples, measure_dense, open_examples, steps_per_epoch
from models.dlrm import Arch, ModelConfig
from models.ensemble import members_for
from models.export import export, load_checkpoint
from models.features import FeatureSpec, SpecError
from models.launch import TrainingError, launch
from models.registry import ModelRecord, Registry, RegistryError
from models.score import Ranker
from models.train import TrainConfig
from shoprec import catalog, inputs, lake
from shoprec.config import Settings

log = logging.getLogger("shoprec.train")
INPUT_TABLES = (
    catalog.TRAINING_EXAMPLES,
    catalog.USER_DAILY,
    catalog.ITEM_DAILY,
    catalog.USER_CATEGORY,
    catalog.ITEM_COOCCURRENCE,
    catalog.CLEAN_EVENTS,
)


@dataclass(frozen=True)
class TrainOptions:
    """What `shoprec train` was asked for (CLI flags)."""

    day: date
    days: int = 7
    nproc: int = 1
    epochs: int = 1
    batch_size: int = 2048
    arch: Arch = "dlrm"
    embedding_dim: int = 64
    sparse_lr: float = 0.05
    dense_lr: float = 0.02
    max_steps: int | None = None
    seed: int = 7
    promote: bool = True  # False: register only (a backtest must not replace the serving champion)
    choose_epochs: bool = False  # True: `epochs` is the most, the count is chosen on a held-out day
    members: int | None = None  # rankers averaged; None: from the training rows (see the module docstring)

    def __post_init__(self) -> None:
        for name in ("days", "nproc", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if self.members is not None and self.members < 1:
            raise ValueError("--members must be at least 1")

    @property
    def train_dates(self) -> tuple[date, ...]:
        """Label days trained on: the `days` days before `day`."""
        return tuple(self.day - timedelta(days=k) for k in range(self.days, 0, -1))

    def model_config(self) -> ModelConfig:
        """Architecture for these options (MLP widths follow the embedding size)."""
        dim = self.embedding_dim
        return ModelConfig(
            arch=self.arch, embedding_dim=dim, dense_layers=(2 * dim, dim), over_layers=(4 * dim, 2 * dim, 1)
        )


@dataclass(frozen=True)
class TrainOutcome:
    """What a `shoprec train` call ended with."""

    run_dir: Path
    result: dict[str, object]
    metrics: Metrics | None
    record: ModelRecord | None
    decision: str
    reused: bool = False
    members: int = 1

    def summary(self) -> str:
        """Lines for the CLI."""
        r = self.result
        lines = [
            f"run {self.run_dir.name}: {r['steps']}/{r['total_steps']} steps on {r['world_size']} rank(s) "
            f"({r['backend']}), {r['samples_per_second']:,.0f} samples/s, loss {r['first_loss']:.4f} -> {r['last_loss']:.4f}"
            + (f" (the first of {self.members} ensemble members)" if self.members > 1 else "")
        ]
        if self.metrics:
            m = self.metrics
            lines.append(
                f"validation {m.rows:,} examples ({m.positives:,} positive): AUC {m.auc:.4f}, "
                f"log loss {m.log_loss:.4f}, popularity baseline AUC {m.popularity_auc:.4f}"
            )
        if self.record:
            lines.append(
                f"registered {model_registry.MODEL_NAME} version {self.record.version}: {self.decision}"
            )
        elif self.decision:
            lines.append(self.decision)
        return "\n".join(lines)


def run(
    settings: Settings, options: TrainOptions, progress: Callable[[str], None] = log.info
) -> TrainOutcome:
    """Train, export, evaluate, register and (maybe) promote a ranker for `options.day`, on this machine."""
    planned = _plan(settings, options, progress)
    if isinstance(planned, TrainOutcome):
        return planned
    epochs = _choose_epochs(options, planned, progress) if options.choose_epochs else options.epochs
    members = len(planned.member_dirs)
    for index, member_dir in enumerate(planned.member_dirs):
        member = replace(options, seed=options.seed + index)
        label = f" (ensemble member {index + 1}/{members}, seed {member.seed})" if members > 1 else ""
        if index:  # one spec (normalisation statistics) and architecture for every member
            member_dir.mkdir(parents=True, exist_ok=True)
            for name in ("spec.json", "model_config.json"):
                shutil.copyfile(planned.run_dir / name, member_dir / name)
        cfg = _prepare(member_dir, member, planned.train, progress, epochs=epochs)
        result_file = member_dir / "result.json"
        if result_file.is_file() and json.loads(result_file.read_text())["finished"]:
            progress(f"training of {member_dir.name} already finished{label}")
            continue
        progress(
            f"training on {planned.train.rows:,} examples ({len(planned.train.dates)} label days "
            f"{options.train_dates[0]}..{options.train_dates[-1]}) with {options.nproc} rank(s){label}"
        )
        launch(cfg, options.nproc)
    return _finish(settings, options, planned, progress)


def prepare(
    settings: Settings, options: TrainOptions, progress: Callable[[str], None] = log.info
) -> TrainConfig:
    """Stage 1 of a cluster run: write the run directory its ranks read, and return its config.

    Every node then runs ``torchrun -m models.train --config RUN_DIR/train_config.json`` with
    ``options.nproc`` ranks in all (nnodes x nproc_per_node, from torchrun's ``PET_*`` environment), and
    `register` with the same options finishes the run. The run directory lives under ``SHOPREC_HOME``,
    which must be the same shared path on every node (the ranks write their checkpoint shards there).
    A run already trained keeps its config: its ranks then have nothing to do, and `register` reports it.
    Choosing the epochs takes a run of its own first, so it is for `run` only.
    """
    if options.choose_epochs:
        raise ValueError("choosing the epochs trains twice on this machine: use --stage all, or fix --epochs")
    planned = _plan(settings, _one_member(options), progress)
    if isinstance(planned, TrainOutcome):
        progress(f"run {planned.run_dir.name} was {planned.decision}")
        return TrainConfig.load(planned.run_dir / "train_config.json")
    return _prepare(planned.run_dir, options, planned.train, progress, epochs=options.epochs)


def register(
    settings: Settings, options: TrainOptions, progress: Callable[[str], None] = log.info
) -> TrainOutcome:
    """Stage 3 of a cluster run: export, evaluate, register and promote what the ranks trained.

    Fails when the run directory `prepare` wrote for the same options has no finished training.
    """
    planned = _plan(settings, _one_member(options), progress)
    if isinstance(planned, TrainOutcome):
        return planned
    result_file = planned.run_dir / "result.json"
    result = json.loads(result_file.read_text()) if result_file.is_file() else None
    if result is None or not result["finished"]:
        reached = f"stopped at step {result['steps']}/{result['total_steps']}" if result else "not trained"
        raise TrainingError(
            f"run {planned.run_dir.name} is {reached}: run its ranks first "
            f"(torchrun -m models.train --config {planned.run_dir / 'train_config.json'})"
        )
    return _finish(settings, options, planned, progress)


def _one_member(options: TrainOptions) -> TrainOptions:
    """The options of a cluster stage, which trains one ranker: an ensemble takes a run per member."""
    if options.members not in (None, 1):
        raise ValueError(
            "an ensemble trains one run per member on this machine: use --stage all, or --members 1"
        )
    return replace(options, members=1)


@dataclass(frozen=True)
class _Planned:
    """The run directory for some options, its members' directories, and the examples it trains and validates on."""

    run_dir: Path
    member_dirs: tuple[Path, ...]
    train: Examples
    valid: Examples


def _plan(
    settings: Settings, options: TrainOptions, progress: Callable[[str], None]
) -> _Planned | TrainOutcome:
    """Check the inputs and name the run directory; the registered outcome when it was already done."""
    quiet_library_logs()
    location = catalog.TRAINING_EXAMPLES.location(settings.lake)
    empty = inputs.empty_days_in_lake(settings, [*options.train_dates, options.day])
    if options.day in empty:
        raise DataError(f"{options.day} has no events (ingest accepted none): validate on another --date")
    train_dates = tuple(d for d in options.train_dates if d not in empty)  # nothing to learn on an empty day
    if not train_dates:
        raise DataError(
            f"no training label day ({options.train_dates[0]}..{options.train_dates[-1]}) has events"
        )
    train_examples = open_examples(location, train_dates, skip_empty=True)
    left_out = sorted(set(train_dates) - set(train_examples.dates))
    if left_out:
        progress(
            f"label days without examples, left out: {', '.join(map(str, left_out))} (none of the day's "
            "interactions was among its candidates, or `shoprec examples` did not run for it)"
        )
    valid_examples = open_examples(location, (options.day,), train_examples.version)
    if steps_per_epoch(train_examples, options.batch_size, options.nproc) == 0:
        raise DataError(
            f"{train_examples.rows:,} training examples are fewer than one global batch "
            f"({options.batch_size} x {options.nproc} ranks); lower --batch-size"
        )
    run_dir = (
        settings.home
        / "training"
        / f"{options.day.isoformat()}-{_fingerprint(options, options.model_config(), FeatureSpec(), train_examples)}"
    )
    members = members_for(train_examples.rows, options.members)
    member_dirs = (run_dir, *(run_dir / f"member_{k + 1}" for k in range(1, members)))
    registered = run_dir / "registered.json"
    if registered.is_file():
        try:
            record = Registry.for_settings(settings).get(json.loads(registered.read_text())["version"])
        except RegistryError:  # the registry was reset since: register this run again
            registered.unlink()
        else:
            result = json.loads((run_dir / "result.json").read_text())
            return TrainOutcome(
                run_dir,
                result,
                None,
                record,
                f"already trained: {record.decision}",
                reused=True,
                members=members,
            )
    return _Planned(run_dir, member_dirs, train_examples, valid_examples)


def _finish(
    settings: Settings, options: TrainOptions, planned: _Planned, progress: Callable[[str], None]
) -> TrainOutcome:
    """Export the trained run, evaluate it on the validation day, register it and decide its promotion."""
    run_dir, model_config = planned.run_dir, options.model_config()
    members = len(planned.member_dirs)
    results = [json.loads((d / "result.json").read_text()) for d in planned.member_dirs]
    result = results[0]
    for member_dir, member_result in zip(planned.member_dirs, results, strict=True):
        if not member_result["finished"]:
            return TrainOutcome(
                run_dir,
                member_result,
                None,
                None,
                f"{member_dir.name} stopped at step {member_result['steps']} (--max-steps); run again to resume",
                members=members,
            )

    progress(f"exporting the final checkpoint{'s' if members > 1 else ''} to a single-process model")
    ranker = Ranker.ensemble([Ranker.load(export(d)) for d in planned.member_dirs])
    model_dir = run_dir / "export"
    if members > 1:
        model_dir = run_dir / "ensemble"
        ranker.save(model_dir)
    metrics = evaluate(ranker, planned.valid)
    registry = Registry.for_settings(settings)
    record = registry.record(
        params={
            **_params(options, model_config, planned.train),
            "epochs_trained": TrainConfig.load(run_dir / "train_config.json").epochs,
            "members": members,
        },
        metrics={
            **metrics.as_dict(),
            **{
                f"train_{k}": float(result[k])
                for k in ("samples_per_second", "seconds", "first_loss", "last_loss", "samples")
            },
        },
        curve=[json.loads(line) for line in (run_dir / "progress.jsonl").read_text().splitlines()]
        if (run_dir / "progress.jsonl").exists()
        else [],
        tags={**_tags(settings, options, model_config, metrics, run_dir), "members": str(members)},
        model_dir=model_dir,
        run_files=[run_dir / name for name in ("train_config.json", "result.json", "progress.jsonl")],
    )
    if options.promote:
        promote, decision, details = _decide(registry, record, metrics, planned.valid)
    else:
        promote, decision, details = (
            False,
            "registered only (not a promotion candidate)",
            {"auc": metrics.auc},
        )
    registry.set_decision(record.version, decision, promote=promote, details=details)
    (run_dir / "registered.json").write_text(json.dumps({"version": record.version}))
    return TrainOutcome(run_dir, result, metrics, registry.get(record.version), decision, members=members)


def _fingerprint(
    options: TrainOptions, model_config: ModelConfig, spec: FeatureSpec, examples: Examples
) -> str:
    decided = {
        # a register-only run is a run of its own; promotable, fixed-epoch runs keep their fingerprints
        "options": {
            k: v
            for k, v in asdict(options).items()
            if k != "max_steps" and not (k == "promote" and v) and not (k == "choose_epochs" and not v)
        },
        "model": asdict(model_config),
        "spec": json.loads(spec.to_json()),
        "examples_version": examples.version,
    }
    return hashlib.sha256(json.dumps(decided, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _prepare(
    run_dir: Path,
    options: TrainOptions,
    examples: Examples,
    progress: Callable[[str], None],
    *,
    epochs: int,
    check_date: date | None = None,
    checkpoint_every: int | None = None,
) -> TrainConfig:
    """Write the run's spec (with normalisation statistics), model config and train config."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "spec.json").is_file():
        progress("measuring dense feature statistics on the training days")
        spec = FeatureSpec()
        spec.with_stats(measure_dense(examples, spec)).save(run_dir / "spec.json")
        (run_dir / "model_config.json").write_text(options.model_config().to_json())
    cfg = TrainConfig(
        run_dir=run_dir,
        examples=examples.location,
        examples_version=examples.version,
        train_dates=examples.dates,
        check_date=check_date or options.day,
        batch_size=options.batch_size,
        epochs=epochs,
        sparse_lr=options.sparse_lr,
        dense_lr=options.dense_lr,
        max_steps=options.max_steps,
        seed=options.seed,
        world_size=options.nproc,
    )
    if checkpoint_every is not None:  # choosing the epochs: one checkpoint per epoch, all kept, no stop
        cfg = replace(cfg, checkpoint_every=checkpoint_every, keep_checkpoints=epochs, max_steps=None)
    cfg.save()
    (run_dir / "error.txt").unlink(missing_ok=True)
    return cfg


def _choose_epochs(options: TrainOptions, planned: _Planned, progress: Callable[[str], None]) -> int:
    """The epoch count (1..options.epochs) with the best AUC on the last training day, trained on the others.

    The choice is kept in the run directory, so a resumed run trains for the same count.
    """
    chosen_file = planned.run_dir / "chosen_epochs.json"
    if chosen_file.is_file():
        return int(json.loads(chosen_file.read_text())["epochs"])
    *fit_dates, held_out = planned.train.dates
    if options.epochs == 1 or not fit_dates:
        progress(f"training {options.epochs} epoch(s): no training day to hold out for choosing fewer")
        return options.epochs
    fit = open_examples(planned.train.location, fit_dates, planned.train.version)
    held = open_examples(planned.train.location, (held_out,), planned.train.version)
    per_epoch = steps_per_epoch(fit, options.batch_size, options.nproc)
    if per_epoch == 0:
        progress(f"training {options.epochs} epoch(s): the days before {held_out} hold less than one batch")
        return options.epochs
    select_dir = planned.run_dir / "choose_epochs"
    cfg = _prepare(
        select_dir,
        options,
        fit,
        progress,
        epochs=options.epochs,
        check_date=held_out,
        checkpoint_every=per_epoch,
    )
    result_file = select_dir / "result.json"
    if not (result_file.is_file() and json.loads(result_file.read_text())["finished"]):
        progress(
            f"choosing the epochs: up to {options.epochs} on {fit.rows:,} examples "
            f"({fit_dates[0]}..{fit_dates[-1]}), scored on the held-out label day {held_out}"
        )
        launch(cfg, options.nproc)
    aucs = [
        evaluate(
            load_checkpoint(select_dir, select_dir / "checkpoints" / f"step_{e * per_epoch:08d}"), held
        ).auc
        for e in range(1, options.epochs + 1)
    ]
    epochs = 1 + int(np.argmax(aucs))  # the first of equals: fewer epochs
    progress(
        f"epochs chosen on {held_out}: {epochs} (AUC after each epoch {', '.join(f'{a:.4f}' for a in aucs)})"
    )
    chosen_file.write_text(json.dumps({"epochs": epochs, "held_out": held_out.isoformat(), "aucs": aucs}))
    shutil.rmtree(select_dir / "checkpoints", ignore_errors=True)  # the choice is all that is kept
    return epochs


def _decide(
    registry: Registry, record: ModelRecord, metrics: Metrics, valid_examples: Examples
) -> tuple[bool, str, dict[str, object]]:
    """Promote unless the champion beats the new model's AUC on the same validation day."""
    champion = registry.champion()
    if champion is None:
        return True, "promoted: first model", {"auc": metrics.auc}
    try:
        _, champion_ranker = registry.load(champion.version)
        champion_auc = evaluate(champion_ranker, valid_examples).auc
    except (DataError, SpecError, OSError) as exc:
        return (
            True,
            f"promoted: champion v{champion.version} cannot score this day ({exc})",
            {"auc": metrics.auc},
        )
    details = {"auc": metrics.auc, "champion_version": champion.version, "champion_auc": champion_auc}
    if metrics.auc >= champion_auc:
        return (
            True,
            f"promoted: AUC {metrics.auc:.4f} >= champion v{champion.version} {champion_auc:.4f}",
            details,
        )
    return (
        False,
        f"kept champion v{champion.version}: its AUC {champion_auc:.4f} > {metrics.auc:.4f}",
        details,
    )


def _params(options: TrainOptions, model_config: ModelConfig, examples: Examples) -> dict[str, object]:
    return {
        **{k: v for k, v in asdict(options).items() if k != "day"},
        **{f"model_{k}": v for k, v in asdict(model_config).items()},
        "train_examples": examples.rows,
        "examples_version": examples.version,
    }


def _tags(
    settings: Settings, options: TrainOptions, model_config: ModelConfig, metrics: Metrics, run_dir: Path
) -> dict[str, str]:
    versions = {f"input.{t.name}": str(lake.info(t, settings).version) for t in INPUT_TABLES}
    return {
        **versions,
        "run_name": run_dir.name,
        "validation_date": options.day.isoformat(),
        "train_dates": f"{options.train_dates[0]}..{options.train_dates[-1]}",
        "arch": model_config.arch,
        "auc": f"{metrics.auc:.6f}",
        "popularity_auc": f"{metrics.popularity_auc:.6f}",
        "run_dir": str(run_dir),
    }
