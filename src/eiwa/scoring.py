"""Entity-level precision, recall and F1 by exact span match.

Scores are micro-averaged over all entities, with a breakdown per entity type,
and equal seqeval's default (conlleval-compatible) mode when computed from
tags with :func:`score_tags`.  An undefined ratio (no predictions, no gold
entities) is 0.0, as with seqeval's ``zero_division=0``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from eiwa.tags import spans_from_tags


@dataclass
class Scores:
    """Precision, recall and F1 as fractions in [0, 1], with the counts behind them."""

    precision: float
    recall: float
    f1: float
    true_positives: int
    predicted: int
    gold: int
    per_type: dict[str, Scores] = field(default_factory=dict)  # empty in the per-type entries
    # What makes the scores mean less than they seem (types the data and the model do not share).
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-ready dict; the per-type entries leave out their own (empty) ``per_type``;
        ``warnings`` is there only when there is one."""
        result = {
            **self._metrics(),
            "per_type": {type_: scores._metrics() for type_, scores in self.per_type.items()},
        }
        return {**result, "warnings": list(self.warnings)} if self.warnings else result

    def _metrics(self) -> dict:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "true_positives": self.true_positives,
            "predicted": self.predicted,
            "gold": self.gold,
        }


def _scores_from_counts(true_positives: int, predicted: int, gold: int) -> Scores:
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, true_positives, predicted, gold)


def score(gold: Sequence[Iterable[tuple]], predicted: Sequence[Iterable[tuple]]) -> Scores:
    """Micro-averaged exact-match scores, with per-type scores.

    ``gold[i]`` and ``predicted[i]`` are the entity spans of sentence ``i`` as
    ``(start, end, type)`` tuples; the offsets may be token or character
    offsets, or anything hashable.  A predicted span is correct when the same
    tuple is among the gold spans of the same sentence.  A span listed twice
    in one sentence counts once.  Per-type entries are sorted by type.

    Raises:
        ValueError: if ``gold`` and ``predicted`` hold different numbers of sentences.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"gold has {len(gold)} sentences but predicted has {len(predicted)}")
    true_positives: Counter[str] = Counter()
    predicted_count: Counter[str] = Counter()
    gold_count: Counter[str] = Counter()
    for gold_spans, predicted_spans in zip(gold, predicted):
        gold_set = set(gold_spans)
        for span in gold_set:
            gold_count[span[2]] += 1
        for span in set(predicted_spans):
            predicted_count[span[2]] += 1
            if span in gold_set:
                true_positives[span[2]] += 1
    micro = _scores_from_counts(true_positives.total(), predicted_count.total(), gold_count.total())
    for type_ in sorted(gold_count.keys() | predicted_count.keys()):
        micro.per_type[type_] = _scores_from_counts(true_positives[type_], predicted_count[type_], gold_count[type_])
    return micro


def type_warnings(data_types: Collection[str], model_types: Collection[str]) -> list[str]:
    """What scoring data with `data_types` against a model that tags `model_types` cannot show: none
    when they are the same; one line when they share none (every score is 0); otherwise a line for
    the types only the data has (always missed) and one for those only the model has (always wrong)."""
    data, model = sorted(set(data_types)), sorted(set(model_types))
    if not data or data == model:
        return []
    if not set(data) & set(model):
        return [
            f"none of the data's entity types ({', '.join(data)}) is one the model tags ({', '.join(model)}): "
            "every score is 0; evaluate a model trained on these types, or give the data the model's types"
        ]
    warnings = []
    if only_data := [name for name in data if name not in model]:
        warnings.append(
            f"the data's types {', '.join(only_data)} are not among the model's ({', '.join(model)}): "
            "their entities all count as missed"
        )
    if only_model := [name for name in model if name not in data]:
        warnings.append(
            f"the model's types {', '.join(only_model)} do not occur in the data ({', '.join(data)}): "
            "each such entity it finds counts as wrong"
        )
    return warnings


def score_tags(gold_tags: Sequence[Sequence[str]], predicted_tags: Sequence[Sequence[str]]) -> Scores:
    """Score tagged sentences in any mix of IOB1, IOB2 and BIOES, as seqeval's default mode does.

    Raises:
        ValueError: if the number of sentences, or the length of a sentence,
            differs between gold and predicted, or a tag is malformed.
    """
    if len(gold_tags) != len(predicted_tags):
        raise ValueError(f"gold has {len(gold_tags)} sentences but predicted has {len(predicted_tags)}")
    for index, (gold_sentence, predicted_sentence) in enumerate(zip(gold_tags, predicted_tags)):
        if len(gold_sentence) != len(predicted_sentence):
            raise ValueError(
                f"sentence {index} has {len(gold_sentence)} gold tags but {len(predicted_sentence)} predicted"
            )
    return score(
        [spans_from_tags(sentence) for sentence in gold_tags],
        [spans_from_tags(sentence) for sentence in predicted_tags],
    )
