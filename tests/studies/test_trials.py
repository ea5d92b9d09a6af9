"""The table of trials: one row per result, the common columns around the study's own, the csv beside it."""

import csv
import io

from studies.run.trials import COLUMNS, markdown, summarize, to_csv


def _row(score, outcome, used=10.0, **extra):
    return {"trial": "t", "setting": "bce", "rounds": 5, "updates": 10, "seconds": 1.5, "score": score,
            "score_smooth": score, "diversity": None, "modes_covered": 3.0, "outcome": outcome, "used": used,
            **extra}


class _Plan:
    max_t = 40.0


def test_markdown_shows_missing_values_as_dashes_and_rounds_floats():
    text = markdown([_row(0.12345, "finished")])
    header, rule, line = text.splitlines()
    assert [c.strip() for c in header.strip("|").split("|")] == COLUMNS
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[COLUMNS.index("score")] == "0.123" and cells[COLUMNS.index("diversity")] == "-"
    assert cells[COLUMNS.index("modes_covered")] == "3"


def test_csv_keeps_the_named_columns_only():
    rows = list(csv.DictReader(io.StringIO(to_csv([_row(0.5, "finished", extra_column=1)], ["trial", "score"]))))
    assert rows == [{"trial": "t", "score": "0.5"}]


def test_summary_counts_outcomes_and_the_budget_early_stops_saved():
    rows = [_row(0.5, "finished", used=40.0), _row(0.1, "stopped_early", used=10.0),
            _row(None, "error", used=0.0), _row(0.2, "collapsed", used=20.0)]
    summary = summarize(rows, _Plan())
    assert (summary["trials"], summary["finished"], summary["stopped_early"], summary["errors"],
            summary["stopped_collapsed"]) == (4, 1, 1, 1, 1)
    assert summary["best_score"] == 0.5
    assert summary["budget_saved"] == 30.0 + 20.0  # the error's budget is not counted as saved
    assert summary["budget_saved_share"] == 50.0 / 160.0
