"""One embeddings run's model and its check, decided before anything is served.

:func:`build_checked` holds out the pairs every user came to last
(:func:`.evaluation.time_split`, the *check hold-out*) and:

- learned: chooses the values on it (:func:`.tuning.tune`: fits on the rest, ranked on the
  hold-out), so the values are chosen on as many pairs as a model judged on this hold-out can
  be trained on; measures the chosen model (the search's fit on the rest, not refitted) on
  the hold-out, trains the served version's recorded params on the same rest and measures it
  on the same hold-out (skipped when the params are the same), then trains the chosen params
  on all pairs — the model that is published. The hold-out chose the new values, so the new
  model's figures carry that (small) selection advantage over the served one's; a broken or
  planted bad model still falls far below both;
- imported: measures the vectors as they are (and as they will be served) on the hold-out.

The check passes unless the new model's personal recall@20 is below the global order's, or
more than :data:`MAX_DROP` below the served model's on the same hold-out; the outcome says
which. An imported served model (no recorded params to retrain) is measured as it is.
Everything runs under one time budget: a fit still running when it is spent raises
:class:`.TrainingBudgetExceeded`, and nothing is published.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from dagster_project.embeddings.als import Deadline, ModelParams, train
from dagster_project.embeddings.evaluation import EvalSet, K, Metrics, evaluate, time_split
from dagster_project.embeddings.interactions import Interactions
from dagster_project.embeddings.tuning import tune
from hot.embedding_store import EmbeddingSet
from hot.personal_scoring import DEFAULT_SCORING

MAX_DROP = 0.02
"""A new model may lose at most this share of the served model's recall@20."""
RECALL = f"personal/recall@{K}"


@dataclass(frozen=True)
class Served:
    """The version the API serves now: its vectors (loaded on demand) and its record."""

    version: str
    record: dict[str, Any]
    load: Callable[[], EmbeddingSet]
    """Its vectors (read only when it must be measured as they are)."""

    @property
    def params(self) -> ModelParams | None:
        """The params it was trained with (``None``: imported, nothing to retrain)."""
        if self.record.get("method") != "als" or "params" not in self.record:
            return None
        return ModelParams.from_mapping(self.record["params"])


@dataclass(frozen=True)
class Checked:
    """A model to stage, what it is served with, and whether it may be served."""

    embeddings: EmbeddingSet
    record: dict[str, Any]
    """Stored with the version: ``method``, ``params`` (``scoring`` at least), ``check``."""
    passed: bool
    reason: str
    metrics: Metrics
    """The new model's hold-out metrics, and the served one's as ``served/...``."""


def build_checked(
    inter: Interactions,
    budget_sec: float,
    served: Served | None,
    imported: EmbeddingSet | None = None,
    factors: int | None = None,
    blend: float | None = None,
) -> Checked:
    """The run's model (learned from ``inter``, or ``imported``) and its check against
    ``served`` on the check hold-out, within ``budget_sec``; ``factors`` / ``blend``:
    operator overrides (``HOT_EMBED_DIM`` / ``HOT_PERSONAL_BLEND``)."""
    deadline = Deadline(budget_sec)
    train_part, holdout = time_split(inter)
    ev = EvalSet.build(train_part, holdout)
    record: dict[str, Any]
    if imported is not None:
        scoring = DEFAULT_SCORING.with_blend(blend)
        metrics = evaluate(imported, scoring, ev)
        embeddings = imported
        params: ModelParams | None = None
        record = {"method": "import", "params": {"scoring": asdict(scoring)}}
    else:
        start = served.params if served is not None else None
        tuned = tune(
            train_part,
            ev,
            deadline,
            start=start,
            factors=factors,
            blend=blend,
            reserve_pairs=len(inter.user_ids),
            reserve_fits=2,  # the served params on the same data, then all pairs
        )
        params = tuned.params
        # The chosen model as the search trained it on the same pairs: nothing to refit.
        metrics = evaluate(tuned.embeddings, params.scoring, ev)
        embeddings = train(inter, params, deadline, what="training on all pairs")
        record = {"method": "als", **tuned.record(deadline.elapsed)}
    if served is not None:
        before = _served_metrics(served, params, metrics, train_part, ev, deadline, blend)
        metrics |= {f"served/{k}": v for k, v in before.items()}
    passed, reason = _verdict(metrics, served)
    record["check"] = {"passed": passed, "reason": reason, "metrics": metrics}
    return Checked(embeddings, record, passed, reason, metrics)


def _served_metrics(
    served: Served,
    new_params: ModelParams | None,
    new_metrics: Metrics,
    train_part: Interactions,
    ev: EvalSet,
    deadline: Deadline,
    blend: float | None,
) -> Metrics:
    """The served model on the same hold-out: retrained from its params on the same pairs,
    or (imported) its vectors as they are; ``(name, value)`` pairs."""
    params = served.params
    if params is None:
        return evaluate(served.load(), DEFAULT_SCORING.with_blend(blend), ev)
    params = replace(params, scoring=params.scoring.with_blend(blend))
    if params == new_params:
        return new_metrics
    refit = train(train_part, params, deadline, what="retraining the served model")
    return evaluate(refit, params.scoring, ev)


def _verdict(metrics: Metrics, served: Served | None) -> tuple[bool, str]:
    """Passed, and why: every rule the model breaks, or how it compares."""
    if not metrics.get("users"):
        return True, "no hold-out users yet (too little engagement to measure): published"
    recall, floor = metrics[RECALL], metrics[f"global/recall@{K}"]
    before = metrics.get(f"served/{RECALL}")
    broken = []
    if recall < floor:
        broken.append(f"personal recall@{K} {recall:.4f} is below the global order's {floor:.4f}")
    if served is not None and before is not None and recall < (1.0 - MAX_DROP) * before:
        broken.append(
            f"personal recall@{K} {recall:.4f} is more than {MAX_DROP:.0%} below the served "
            f"model's {before:.4f} (version {served.version}) on the same hold-out"
        )
    if broken:
        return False, "; ".join(broken) + ": not served"
    against = f"served {before:.4f} and " if before is not None else ""
    return True, f"personal recall@{K} {recall:.4f} vs {against}global {floor:.4f}"
