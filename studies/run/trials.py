"""The table of a study's trials, as the driver prints it and keeps it in the parent run (`trials.md`,
`trials.csv`), and how each trial ended (`outcome`: the child run's `gan.status` too).

One row per Tune result: the trial's setting (its label), the training work it did (rounds, updates),
its last scores and the study's own metrics, its outcome, the study run it was reused from and, for a
trial that ended in error, the error's first line. `summarize` counts the outcomes and the budget that
early stops saved.
"""

from __future__ import annotations

import csv
import io
import math

from studies.declare.spaces import label
from studies.plan.plan import Plan
from studies.report.tables import markdown_table
from studies.run.trainable import error_line, resolve


def outcome(result: dict | None, error: bool = False, collapse_stopped: bool = False,
            budget: tuple[str, float] | None = None) -> str:
    """How a trial ended: error, diverged, finished (its own budget, or ASHA's last rung
    `budget` = (time_attr, max_t) reached), out_of_time (the wall-clock safety cap ended it
    before its budget), collapsed (ended by the collapse stopper) or stopped_early (by ASHA)."""
    result = result or {}
    if error or result.get("error"):
        return "error"
    if result.get("diverged"):
        return "diverged"
    if result.get("timed_out"):
        return "out_of_time"
    if collapse_stopped and not result.get("finished"):
        return "collapsed"
    spent = budget is not None and result.get(budget[0], 0.0) >= budget[1]
    return "finished" if result.get("finished") or spent else "stopped_early"


def table_rows(plan: Plan, results, collapse_stopped: set) -> list[dict]:
    columns = plan.columns
    rows = []
    for result in results:
        config = resolve(plan.base, result.config or {})
        metrics = {k: _number(v) for k, v in (result.metrics or {}).items()}
        rows.append({"config": config.to_dict(), "trial": metrics.get("trial_id", "?"),
                     "setting": label(columns, result.config or {}),
                     "rounds": int(metrics.get("step") or 0),
                     "updates": int((metrics.get("d_updates") or 0) + (metrics.get("g_updates") or 0)),
                     "seconds": metrics.get("time_total_s"),
                     "score": metrics.get("score"), "score_smooth": metrics.get("score_smooth"),
                     "diversity": metrics.get("diversity"), "modes_covered": metrics.get("modes_covered"),
                     "used": metrics.get(plan.time_attr) or 0.0,
                     **{name: metrics.get(name) for name in plan.study.columns},
                     "outcome": outcome(metrics, result.error is not None, metrics.get("trial_id") in collapse_stopped,
                                        (plan.time_attr, plan.max_t)),
                     "message": metrics.get("error_message") or (error_line(result.error) if result.error else None),
                     "from": metrics.get("reused_from")})
    return sorted(rows, key=lambda r: (-(r["score"] if r["score"] is not None else -1), r["setting"]))


def _number(value):
    """A metric as the table shows it: NaN and infinities (an errored trial's scores) as missing."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() or abs(value) >= 100 else f"{value:.3f}"
    return str(value)


COLUMNS = ["trial", "setting", "rounds", "updates", "seconds", "score", "score_smooth", "diversity", "modes_covered",
           "outcome"]


def columns(plan: Plan, rows: list[dict] = ()) -> list[str]:
    """The table's columns: the common ones, with the study's own metrics before the outcome, and
    the error messages after it when a trial ended in error."""
    errors = ["message"] if any(row.get("message") for row in rows) else []
    reused = ["from"] if any(row.get("from") for row in rows) else []  # the study run a reused trial came from
    return COLUMNS[:-1] + list(plan.study.columns) + COLUMNS[-1:] + reused + errors


def markdown(rows: list[dict], names: list[str] = COLUMNS) -> str:
    return "\n".join(markdown_table(names, ([_fmt(row.get(c)) for c in names] for row in rows)))


def to_csv(rows: list[dict], names: list[str] = COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def summarize(rows: list[dict], plan: Plan) -> dict:
    """Counts of outcomes, and the trial budget the early stops saved (in `plan.time_attr`
    units: trial-seconds under a time cap, else evaluations), also as a share of all trials' budgets."""
    count = lambda name: sum(r["outcome"] == name for r in rows)
    scores = [r["score"] for r in rows if r["score"] is not None]
    saved = sum(max(0.0, plan.max_t - r["used"]) for r in rows if r["outcome"] in ("stopped_early", "collapsed"))
    return {"trials": len(rows), "finished": count("finished"), "stopped_early": count("stopped_early"),
            "stopped_collapsed": count("collapsed"), "diverged": count("diverged"), "errors": count("error"),
            "out_of_time": count("out_of_time"),
            "best_score": max(scores) if scores else 0.0, "budget_saved": saved,
            "budget_saved_share": saved / (plan.max_t * len(rows)) if rows else 0.0}
