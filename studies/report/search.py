"""The report of a search study (Optuna TPE, e.g. `tune`): the Optuna study
rebuilt from the child runs, Optuna's own parameter importances, and the best
score against trial number.

Each trial's parameters are what its `gan.setting` tag names (the values the
space suggested, floats to 3 significant digits), its value the score at the
report's common step (see `studies.report.analysis`: early stops are
censored). A parameter's distribution spans the values the trials took:
integers as an int range, other numbers as a float range, anything else as a
categorical. Optuna assesses only the parameters every trial has (a
conditional space's branch parameters drop out), with its default fANOVA
evaluator, seeded.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from studies.report.analysis import SCORED, Analysis
from studies.report.figures import STOP_MARKERS, png

IMPORTANCE_SEED = 0


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _distribution(values: list):
    import optuna.distributions as d

    if len(set(values)) < 2:
        return None  # a constant says nothing about importance
    if all(isinstance(v, int) for v in values):
        return d.IntDistribution(min(values), max(values))
    if all(isinstance(v, (int, float)) for v in values):
        return d.FloatDistribution(float(min(values)), float(max(values)))
    return d.CategoricalDistribution(sorted({str(v) for v in values}))


def scored_trials(analysis: Analysis) -> list[tuple]:
    """(trial, score at the common step) of every compared trial, in the order they started."""
    step = analysis.common_step
    found = [(t, t.at("score", step)) for t in analysis.runs.trials if t.status in SCORED and step is not None]
    return sorted([(t, v) for t, v in found if v is not None], key=lambda tv: tv[0].start_time)


def optuna_study(analysis: Analysis):
    """An Optuna study holding one completed trial per compared child run; None for fewer than 2."""
    import optuna

    rows = scored_trials(analysis)
    if len(rows) < 2:
        return None
    params = [{k: _value(v) for k, v in t.labels.items() if k != "seed"} for t, _ in rows]
    names = sorted({k for p in params for k in p})
    dists = {k: _distribution([p[k] for p in params if k in p]) for k in names}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    for p, (_, score) in zip(params, rows):
        kept = {k: (str(v) if isinstance(dists[k], optuna.distributions.CategoricalDistribution) else v)
                for k, v in p.items() if dists[k] is not None}
        study.add_trial(optuna.trial.create_trial(params=kept, distributions={k: dists[k] for k in kept},
                                                  value=float(score)))
    return study


def param_importances(analysis: Analysis) -> dict[str, float]:
    """Optuna's importances (fANOVA, seeded) of the parameters every trial has; {} when there are none."""
    import optuna

    study = optuna_study(analysis)
    if study is None:
        return {}
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=IMPORTANCE_SEED)
        return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
    except (RuntimeError, ValueError):  # no parameter common to all trials, or too few distinct ones
        return {}


def importances(analysis: Analysis) -> bytes | None:
    found = param_importances(analysis)
    if not found:
        return None
    names = list(found)[::-1]
    fig = Figure(figsize=(6.5, 0.4 * len(names) + 1.2))
    ax = fig.subplots()
    ax.barh(names, [found[n] for n in names], color="C0")
    ax.set_xlabel("importance (Optuna fANOVA): share of the score's variance")
    ax.set_title(f"parameter importances, score at step {analysis.common_step}", fontsize=10)
    return png(fig)


def best_so_far(analysis: Analysis) -> bytes | None:
    rows = scored_trials(analysis)
    if not rows:
        return None
    fig = Figure(figsize=(6.5, 3.4))
    ax = fig.subplots()
    numbers = np.arange(len(rows))
    scores = np.array([v for _, v in rows])
    ax.step(numbers, np.maximum.accumulate(scores), where="post", color="C0", label="best so far")
    for i, (trial, score) in enumerate(rows):
        marker = STOP_MARKERS.get(trial.status, ("o", ""))[0]
        ax.plot([i], [score], marker, color="0.35", ms=6, mew=1.5)
    for status, (marker, text) in {"finished": ("o", "finished"), **STOP_MARKERS}.items():
        ax.plot([], [], marker, color="0.35", ls="", label=text)
    ax.set_xlabel("trial number (in the order started)")
    ax.set_ylabel(f"score at step {analysis.common_step}")
    ax.legend(fontsize=7)
    return png(fig)
