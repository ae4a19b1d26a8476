"""The annotation study: a user with an annotation budget, simulated on a labelled corpus.

The training part is the pool. Its labels are revealed only for the sentences an arm selects; the
rest of the pool is that arm's unlabelled text. Every arm is scored on the same dev and test
sentences, and each (arm, size, seed) is one record in `records.jsonl`, appended when it finishes,
so that an interrupted study resumes where it stopped.

Arms (names as in the report):
- `scratch-random`, `transfer-random`: N sentences drawn at random (per seed), trained from scratch
  or from the English source;
- `transfer-active`: selection in rounds (`sizes` in order, the first drawn at random), each round's
  model choosing the next sentences by uncertainty (eiwa.selection);
- `<arm>+unlabelled`: the arm's model teaches the rest of the pool, and a new student learns from
  both (training/self_training.py); `+unlabelled-<variant>` with a variant's settings (`[variants]`,
  e.g. `hard = ["pseudo_labels=hard"]`: hard pseudo-labels);
- `zero-shot`, `zero-shot+unlabelled`: the transferred model untrained, and a student taught by it
  on the whole pool without any gold sentence.

Teachers and active rounds read the models of earlier records from `models/`, so a study is run in
units (an arm chain for one seed) that run in order within a unit and in parallel across units.
"""

from __future__ import annotations

import copy
import statistics
import time
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from eiwa.build import Start, starts
from eiwa.config import Config, load_config
from eiwa.crosslingual.starts import parse_start_modules
from eiwa.doc import Sentence, entity_types
from eiwa.errors import EiwaError
from eiwa.persist.atomic import atomic_text, write_atomic
from eiwa.persist.files import read_text
from eiwa.readers import read
from eiwa.scoring import score
from eiwa.study.folds import shared_split
from eiwa.study.report import pooled_counts
from eiwa.study.runner import append_record, read_finished
from eiwa.study.stats import approximate_randomization, mean_std, micro_f1, sentence_counts
from eiwa.tagger import Tagger
from eiwa.training.self_training import train_with_unlabelled
from eiwa.training.train import silent, train

RECORDS = "records.jsonl"
Log = Callable[[str], None]


@dataclass(frozen=True)
class AnnotationSpec:
    """[annotation] of an experiment file: the corpus, the source, the settings and the arms' sizes."""

    name: str
    out: Path
    path: str
    seeds: tuple[int, ...]
    source: str
    label_map: str
    modules: str
    config: str
    overrides: tuple[str, ...]
    arms: dict[str, tuple[int, ...]] = field(default_factory=dict)
    zero_shot: dict = field(default_factory=dict)  # config overrides of the zero-shot arms
    variants: dict[str, tuple[str, ...]] = field(default_factory=dict)  # +unlabelled-<name>: its --set values

    @classmethod
    def read(cls, path: str | Path) -> AnnotationSpec:
        from eiwa.study.spec import annotation_values, check_out, read_toml

        data = annotation_values(read_toml(Path(path)), path)
        check_out(data.get("out", f"results/{data['name']}"), path)
        variants = {"hard": ("pseudo_labels=hard",), **{k: tuple(v) for k, v in data.get("variants", {}).items()}}
        unknown_arms = [arm for arm in data.get("arms", {}) if _runner_of(arm, variants) is None]
        if unknown_arms:
            raise EiwaError(
                f"{path}: unknown arms {', '.join(sorted(unknown_arms))} (known: {', '.join(ARMS)}, "
                f"and <arm>+unlabelled-<variant> for the variants {', '.join(variants)})"
            )
        return cls(
            data["name"],
            Path(data.get("out", f"results/{data['name']}")),
            data["path"],
            tuple(data.get("seeds", (1, 2, 3))),
            data["source"],
            data["label_map"],
            data.get("modules", "shared"),
            data.get("config", "ja-small"),
            tuple(data.get("set", ())),
            {arm: tuple(sizes) for arm, sizes in data.get("arms", {}).items()},
            data.get("zero_shot", {}),
            variants,
        )


def is_annotation_study(path: str | Path) -> bool:
    """Whether an experiment file describes an annotation study (it has [arms]) rather than grids."""
    try:
        return "arms" in tomllib.loads(read_text(path, EiwaError, "experiment file"))
    except (EiwaError, tomllib.TOMLDecodeError):
        return False  # the grid reader says what is wrong with it


class Pool:
    """The corpus, its shared split, and the sentences an arm sees."""

    def __init__(self, spec: AnnotationSpec):
        train_view = read(spec.path, "spans", "ja", split_tokens=True).sentences
        test_view = read(spec.path, "spans", "ja", split_tokens=False).sentences
        train_ids, dev_ids, test_ids = shared_split(len(train_view))
        self.ids = np.asarray(train_ids)
        self.train_view, self.plain_view = train_view, test_view
        self.dev = [test_view[i] for i in dev_ids]
        self.test = [test_view[i] for i in test_ids]
        self.types = entity_types(train_view)

    def random(self, size: int, seed: int) -> list[int]:
        """`size` pool positions drawn at random, the same draw for every arm of a seed (a prefix of it
        for smaller sizes)."""
        return np.random.default_rng([seed, 2026]).permutation(len(self.ids))[:size].tolist()

    def labelled(self, chosen: Sequence[int]) -> list[Sentence]:
        return [self.train_view[self.ids[i]] for i in chosen]

    def unlabelled(self, chosen: Sequence[int]) -> list[Sentence]:
        """The rest of the pool, without its labels, tokenized as any text would be."""
        taken = set(chosen)
        return [replace(self.plain_view[i], entities=[]) for p, i in enumerate(self.ids) if p not in taken]


class Study:
    """One process's view of an annotation study: the pool, the configs, the source, the records."""

    def __init__(self, spec: AnnotationSpec):
        self.spec, self.pool = spec, Pool(spec)
        self.config = load_config(spec.config, list(spec.overrides), lang="ja")
        self.source = Tagger.load(spec.source)
        self.models = spec.out / "models"

    def config_for(self, seed: int, **overrides) -> Config:
        return replace(self.config, seed=seed, **overrides).validate()

    def start(self, config: Config, sentences: Sequence[Sentence], transfer: bool) -> Tagger | None:
        if not transfer:
            return None
        start = Start([self.source], parse_start_modules(self.spec.modules), self.spec.label_map, self.pool.types)
        return starts(start, config, sentences)[0]

    def record(self, arm: str, size: int, seed: int, tagger: Tagger, dev_f1: float | None, seconds: float, **extra):
        predicted = tagger.tag_sentences(self.pool.test)
        gold = [[e.as_tuple() for e in s.entities] for s in self.pool.test]
        found = [[e.as_tuple() for e in spans] for spans in predicted]
        return {
            "key": f"{arm}|{size}|{seed}",
            "arm": arm,
            "size": size,
            "seed": seed,
            **score(gold, found).to_dict(),
            "dev_f1": dev_f1,
            "seconds": round(seconds, 1),
            "sentence_counts": [sentence_counts(g, p) for g, p in zip(gold, found)],
            **extra,
        }

    def save(self, tagger: Tagger, arm: str, size: int, seed: int) -> None:
        tagger.save(self.models / f"{arm}-{size}-{seed}")

    def load(self, arm: str, size: int, seed: int) -> Tagger:
        return Tagger.load(self.models / f"{arm}-{size}-{seed}")


# ---------------------------------------------------------------------------------------------- arms


def _supervised(study: Study, arm: str, size: int, seed: int) -> dict:
    """scratch-random, transfer-random, transfer-active: train on the arm's N labelled sentences."""
    chosen = _chosen(study, arm, size, seed)
    config = study.config_for(seed)
    labelled = study.pool.labelled(chosen)
    started = time.perf_counter()
    start = study.start(config, labelled, transfer=arm.startswith("transfer"))
    result = train(config, labelled, study.pool.dev, tagger=start, progress=False, log=silent, warn=silent)
    study.save(result.tagger, arm, size, seed)
    seconds = time.perf_counter() - started
    extra = {"chosen": chosen} if arm.endswith("active") else {}
    if arm.endswith("active"):
        extra["next"] = _next_active(study, result.tagger, arm, size, seed, chosen)
    return study.record(arm, size, seed, result.tagger, result.best_dev_f1, seconds, epochs=result.epochs, **extra)


def _with_unlabelled(study: Study, arm: str, size: int, seed: int) -> dict:
    """<base>+unlabelled[-variant]: the base arm's model teaches the rest of the pool to a new student."""
    base, _, variant = arm.partition("+unlabelled")
    chosen = _chosen(study, base, size, seed)
    config = study.config_for(seed)
    if variant:
        config = config.with_overrides(list(study.spec.variants[variant[1:]])).validate()
    labelled, unlabelled = study.pool.labelled(chosen), study.pool.unlabelled(chosen)
    started = time.perf_counter()
    start = study.start(config, [*labelled, *unlabelled], transfer=base.startswith("transfer"))
    teacher = study.load(base, size, seed)
    result = train_with_unlabelled(
        config, labelled, study.pool.dev, unlabelled, [teacher], start=start, progress=False, log=silent, warn=silent
    )
    seconds = time.perf_counter() - started
    rounds = result.tagger.meta["self_training"]
    return study.record(arm, size, seed, result.tagger, result.best_dev_f1, seconds, rounds=rounds)


def _zero_shot(study: Study, arm: str, size: int, seed: int) -> dict:
    """zero-shot: the transferred model untrained; +unlabelled: a student taught by it on the whole pool."""
    config = study.config_for(seed, **study.spec.zero_shot)
    unlabelled = study.pool.unlabelled([])
    started = time.perf_counter()
    teacher = study.start(config, unlabelled, transfer=True)
    if arm == "zero-shot":
        return study.record(arm, 0, seed, teacher, None, time.perf_counter() - started)
    result = train_with_unlabelled(
        config,
        [],
        study.pool.dev,
        unlabelled,
        [teacher],
        start=copy.deepcopy(teacher),
        progress=False,
        log=silent,
        warn=silent,
    )
    seconds = time.perf_counter() - started
    rounds = result.tagger.meta["self_training"]
    return study.record(arm, 0, seed, result.tagger, result.best_dev_f1, seconds, rounds=rounds)


def _chosen(study: Study, arm: str, size: int, seed: int) -> list[int]:
    """The pool positions an arm has labels for at `size`: a random draw, or the active rounds'."""
    if not arm.endswith("active"):
        return study.pool.random(size, seed)
    sizes = study.spec.arms[arm]
    if size == sizes[0]:
        return study.pool.random(size, seed)
    before = sizes[sizes.index(size) - 1]
    record = _finished(study.spec.out).get(f"{arm}|{before}|{seed}")
    if record is None:
        raise EiwaError(f"{arm} at {size} needs the round at {before} first (seed {seed})")
    return record["chosen"] + record["next"]


def _next_active(study: Study, tagger: Tagger, arm: str, size: int, seed: int, chosen: list[int]) -> list[int]:
    """What this round's model selects for the next size of the arm (none after the last)."""
    from eiwa.selection import select

    sizes = study.spec.arms[arm]
    if size == sizes[-1]:
        return []
    pool = [study.pool.plain_view[i] for i in study.pool.ids]
    return [int(i) for i in select(tagger, pool, sizes[sizes.index(size) + 1] - size, seed=seed, exclude=chosen)]


ARMS: dict[str, Callable[[Study, str, int, int], dict]] = {
    "scratch-random": _supervised,
    "transfer-random": _supervised,
    "transfer-active": _supervised,
    "scratch-random+unlabelled": _with_unlabelled,
    "transfer-random+unlabelled": _with_unlabelled,
    "transfer-active+unlabelled": _with_unlabelled,
    "zero-shot": _zero_shot,
    "zero-shot+unlabelled": _zero_shot,
}


def _runner_of(arm: str, variants: dict) -> Callable | None:
    """The function that runs an arm: a named one, or a +unlabelled arm with one of the variants."""
    if arm in ARMS:
        return ARMS[arm]
    base, unlabelled, variant = arm.partition("+unlabelled-")
    return _with_unlabelled if unlabelled and f"{base}+unlabelled" in ARMS and variant in variants else None


# -------------------------------------------------------------------------------------------- running


def units(spec: AnnotationSpec) -> list[list[tuple[str, int, int]]]:
    """The study's runs in units that can go in parallel: per seed, the random chain (its +unlabelled
    arms after the models they need), the active chain, and the zero-shot arms."""
    chains = {"random": [], "active": [], "zero": []}
    order = sorted(spec.arms, key=lambda arm: ("+" in arm, arm))  # teachers before their students
    for arm in order:
        chain = "zero" if arm.startswith("zero") else "active" if "active" in arm else "random"
        for size in sorted(spec.arms[arm]):
            chains[chain].append((arm, size))
    return [[(arm, size, seed) for arm, size in chain] for seed in spec.seeds for chain in chains.values() if chain]


def run_study(spec: AnnotationSpec, workers: int = 1, log: Log = print) -> Path:
    """Every unit's pending runs (`workers` units at a time), then the report; returns the report's path."""
    spec.out.mkdir(parents=True, exist_ok=True)
    pending = [[run for run in unit if _key(*run) not in _finished(spec.out)] for unit in units(spec)]
    pending = [unit for unit in pending if unit]
    log(f"{spec.name}: {sum(map(len, pending))} runs pending in {len(pending)} units, {workers} at a time")
    if workers > 1:
        with ProcessPoolExecutor(workers) as executor:
            for done in executor.map(_run_unit, [spec] * len(pending), pending):
                log(done)
    else:
        for unit in pending:
            log(_run_unit(spec, unit))
    return write_annotation_report(spec)


def _run_unit(spec: AnnotationSpec, unit: list[tuple[str, int, int]]) -> str:
    import torch

    torch.set_num_threads(1)
    study = Study(spec)
    lines = []
    for arm, size, seed in unit:
        record = _runner_of(arm, spec.variants)(study, arm, size, seed)
        append_record(spec.out / RECORDS, {}, record)
        lines.append(f"{arm} N={size} seed {seed}: test F1 {record['f1']:.4f} ({record['seconds']:.0f} s)")
    return "\n".join(lines)


def _key(arm: str, size: int, seed: int) -> str:
    return f"{arm}|{size}|{seed}"


def _finished(out: Path) -> dict[str, dict]:
    return read_finished(out / RECORDS)


# --------------------------------------------------------------------------------------------- report


def summary(spec: AnnotationSpec) -> list[dict]:
    """Per (arm, size): mean and std of test and dev F1 over seeds, and the mean seconds."""
    finished = _finished(spec.out)
    rows = []
    for arm, sizes in spec.arms.items():
        for size in sizes:
            runs = [finished.get(_key(arm, size, seed)) for seed in spec.seeds]
            if None in runs:
                continue
            f1, f1_std = mean_std([r["f1"] for r in runs])
            dev = [r["dev_f1"] for r in runs if r["dev_f1"] is not None]
            rows.append(
                {
                    "arm": arm,
                    "size": size,
                    "f1": f1,
                    "f1_std": f1_std,
                    "dev_f1": statistics.fmean(dev) if dev else None,
                    "seconds": statistics.fmean(r["seconds"] for r in runs),
                    "runs": runs,
                }
            )
    return rows


def paired(a: list[dict], b: list[dict]) -> tuple[float, float]:
    """The difference of two rows' micro F1 over their test sentences of all seeds pooled, and the p of
    the paired approximate-randomization test over those sentences."""
    a, b = pooled_counts(a), pooled_counts(b)
    return micro_f1(a) - micro_f1(b), approximate_randomization(a, b)


def write_annotation_report(spec: AnnotationSpec) -> Path:
    rows = summary(spec)
    by = {(r["arm"], r["size"]): r for r in rows}
    lines = [
        f"# {spec.name}: annotation curves",
        "",
        f"Seeds {', '.join(map(str, spec.seeds))}; source {spec.source} ({spec.modules}); config {spec.config} "
        f"{' '.join(spec.overrides)}. Test F1 mean ± std over seeds; Δ and p against scratch-random at the "
        "same N (paired approximate randomization over the test sentences of all seeds); dev F1 is what "
        "settings are chosen on.",
        "",
        "| arm | N | test F1 | dev F1 | Δ scratch-random | p | s per run |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        base = by.get(("scratch-random", r["size"]))
        delta, p = paired(r["runs"], base["runs"]) if base and r["arm"] != "scratch-random" else (None, None)
        lines.append(
            f"| {r['arm']} | {r['size']} | {r['f1']:.4f} ± {r['f1_std']:.4f} | "
            f"{'' if r['dev_f1'] is None else format(r['dev_f1'], '.4f')} | "
            f"{'' if delta is None else format(delta, '+.4f')} | {'' if p is None else format(p, '.4f')} | "
            f"{r['seconds']:.0f} |"
        )
    lines += ["", *_against_double(rows, by), "", *_against_base(rows, by)]
    if rows:
        lines += ["", f"![annotation curves]({_plot(spec, rows).name})"]
    path = spec.out / "RESULTS.md"
    with atomic_text(path) as stream:
        stream.write("\n".join(lines) + "\n")
    return path


def _against_base(rows: list[dict], by: dict) -> list[str]:
    """What each lever adds at equal N: unlabelled text against its base arm, active against random
    selection (same start)."""
    lines = ["| arm | N | against | Δ | p |", "|---|---:|---|---:|---:|"]
    for r in rows:
        base = r["arm"].partition("+unlabelled")[0] if "+unlabelled" in r["arm"] else None
        if base is None and r["arm"].endswith("-active"):
            base = r["arm"].removesuffix("-active") + "-random"
        if base is None or (base, r["size"]) not in by:
            continue
        delta, p = paired(r["runs"], by[(base, r["size"])]["runs"])
        lines.append(f"| {r['arm']} | {r['size']} | {base} | {delta:+.4f} | {p:.4f} |")
    return lines


def _against_double(rows: list[dict], by: dict) -> list[str]:
    """Each arm at N against scratch-random at 2N: the seed paper's claim in a user's terms."""
    lines = ["| arm at N | against scratch-random at 2N | Δ | p |", "|---|---|---:|---:|"]
    for r in rows:
        double = by.get(("scratch-random", 2 * r["size"]))
        if double is None or r["arm"] == "scratch-random" or r["size"] == 0:
            continue
        delta, p = paired(r["runs"], double["runs"])
        lines.append(f"| {r['arm']} at {r['size']} | {double['f1']:.4f} at {2 * r['size']} | {delta:+.4f} | {p:.4f} |")
    return lines


def _plot(spec: AnnotationSpec, rows: list[dict]) -> Path:
    """Test F1 (mean ± std over seeds) against annotated sentences, a line per arm."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    from eiwa.study.report import size_axis

    figure, axes = plt.subplots(figsize=(6.5, 4.2))
    for arm in spec.arms:
        points = sorted((r for r in rows if r["arm"] == arm), key=lambda r: r["size"])
        if points:
            sizes, means, stds = zip(*((r["size"], r["f1"], r["f1_std"]) for r in points))
            axes.errorbar(sizes, means, yerr=stds, marker="o", capsize=3, label=arm)
    size_axis(axes, sorted({r["size"] for r in rows}))
    axes.set_xlabel("annotated sentences")
    axes.set_ylabel("test F1")
    axes.set_title(spec.name)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    path = spec.out / "curves.png"
    figure.tight_layout()
    write_atomic(path, lambda p: figure.savefig(p, format="png", dpi=120))
    plt.close(figure)
    return path
