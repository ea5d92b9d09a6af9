"""A study report as text: the tables of an `Analysis` in Markdown and in a
self-contained HTML page (figures embedded as base64 PNG), and the few lines
of answer a terminal gets.

Every table says what it holds: the comparison at the common step (early
stops are censored there), the finals of the trials that ran their whole
budget (labelled as such), outcomes and collapse rates with Wilson
intervals, and the best setting against each other setting.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

from studies import stats
from studies.report_analysis import OUTCOMES, Analysis, SettingStats


@dataclass(frozen=True)
class Figure:
    name: str  # file name stem: figures/<name>.png
    title: str
    caption: str
    png: bytes


def num(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def interval(ci: stats.Interval | None) -> str:
    return "" if ci is None else f" [{num(ci[0])}, {num(ci[1])}]"


def cell(summary: stats.Summary | None) -> str:
    if summary is None:
        return "-"
    iqm = f"; IQM {num(summary.iqm)}" if summary.iqm is not None else ""
    return f"{num(summary.mean)}{interval(summary.ci)}{iqm}"


def outcomes(setting: SettingStats) -> str:
    return ", ".join(f"{setting.outcomes[o]} {o}" for o in OUTCOMES if setting.outcomes[o])


def collapse(setting: SettingStats) -> str:
    low, high = setting.collapse_ci
    return f"{setting.collapsed}/{setting.n} [{num(low)}, {num(high)}]"


def tables(analysis: Analysis) -> list[tuple[str, str, list[str], list[list[str]]]]:
    """(title, note, header, rows) of every table of the report."""
    cols = list(analysis.columns)
    step = analysis.common_step
    compared = [[s.setting, str(s.at_common["score"].n if "score" in s.at_common else 0)]
                + [cell(s.at_common.get(c)) for c in cols] for s in analysis.settings]
    finished = [[s.setting, str(s.outcomes["finished"])] + [cell(s.finished.get(c)) for c in cols]
                for s in analysis.settings]
    ended = [[s.setting, str(s.n), outcomes(s), collapse(s)] for s in analysis.settings]
    out = [
        (f"Settings compared at step {step}",
         "Each trial's value at its last evaluation at or before the largest step that every compared trial "
         "reached, so early stops do not count as results. Mean over seeds [95% bootstrap interval]; "
         "IQM where n >= 4. Best setting first.", ["setting", "n"] + cols, compared),
        ("Finished trials only, at their end",
         "The final values of the trials that ran their whole budget; trials stopped by ASHA or as collapsed "
         "are left out, so these rows are not comparable with one another when outcomes differ.",
         ["setting", "finished"] + cols, finished),
        ("Outcomes and collapse rate",
         "Collapsed: ended by the collapse stopper, or flagged collapsed at the last evaluation; "
         "[95% Wilson interval].", ["setting", "trials", "outcomes", "collapsed"], ended),
    ]
    best = analysis.best
    if best is not None and analysis.comparisons:
        rows = [[other, f"{num(c.p)}{interval(c.ci)}", num(c.p_value), c.verdict]
                for other, c in analysis.comparisons.items()]
        out.append((f"{best.setting} against each other setting",
                    f"P(best > other): the chance that a seed of {best.setting} scores higher at step {step} "
                    "than a seed of the other (ties count 1/2), [95% bootstrap interval]; p: two-sided "
                    "Mann-Whitney test; better or worse when the interval excludes 1/2 and p < 0.05 (two or "
                    "three seeds a side can never reach it).",
                    ["other setting", "P(best > other)", "p", "verdict"], rows))
    return out


def markdown(analysis: Analysis, summary: list[str], figures: list[Figure], ui: str) -> str:
    runs = analysis.runs
    lines = [f"# Study report: {runs.study}", "", f"Parent run `{runs.parent_name}` ({runs.parent_id}); "
             f"runs table: {ui}", ""]
    lines += [f"- {line}" for line in summary] + [""]
    for title, note, header, rows in tables(analysis):
        lines += [f"## {title}", "", note, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    for fig in figures:
        lines += [f"## {fig.title}", "", fig.caption, "", f"![{fig.title}](figures/{fig.name}.png)", ""]
    return "\n".join(lines)


STYLE = """body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f2f2f2}
p.note{color:#555;font-size:.9em;max-width:60em}img{max-width:100%;border:1px solid #eee}
ul.answer{font-size:1.05em;background:#f7f9fc;padding:.8em 2em;border-left:4px solid #4a78c2}"""


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(analysis: Analysis, summary: list[str], figures: list[Figure], ui: str) -> str:
    """The whole report as one HTML document with its figures embedded."""
    runs = analysis.runs
    esc = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Study report: {esc(runs.study)}</title>",
             f"<style>{STYLE}</style></head><body><h1>Study report: {esc(runs.study)}</h1>",
             f"<p class='note'>Parent run <code>{esc(runs.parent_name)}</code> ({esc(runs.parent_id)}); "
             f"runs table: <code>{esc(ui)}</code></p>",
             "<ul class='answer'>" + "".join(f"<li>{esc(line)}</li>" for line in summary) + "</ul>"]
    for title, note, header, rows in tables(analysis):
        parts += [f"<h2>{esc(title)}</h2><p class='note'>{esc(note)}</p>", _html_table(header, rows)]
    for fig in figures:
        data = base64.b64encode(fig.png).decode("ascii")
        parts += [f"<h2>{esc(fig.title)}</h2><p class='note'>{esc(fig.caption)}</p>",
                  f"<img id='{fig.name}' alt='{esc(fig.title)}' src='data:image/png;base64,{data}'>"]
    return "\n".join(parts + ["</body></html>"])
