"""A study report as text: the tables of an `Analysis` in Markdown and in a
self-contained HTML page (figures embedded as base64 PNG), and the few lines
of answer a terminal gets.

Every table says what it holds: the comparison at the common step (early
stops are censored there), the finals at the end of the budget over the
seeds that ran to it (with how many of each setting's seeds those are; ranked
only from MIN_AT_END seeds), outcomes and collapse rates with Wilson
intervals, and the best setting against each other setting at the common
step and at the end. Under FIFO the common step is the end: one comparison.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

from studies.report import stats, verdicts
from studies.report.tables import markdown_table
from studies.report.analysis import MIN_AT_END, OUTCOMES, Analysis, SettingStats


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


def end_place(analysis: Analysis) -> str:
    """Where the trials that ran their whole budget ended: "step 8,400", or their range under a time budget."""
    if analysis.end_step is not None:
        return f"step {analysis.end_step:,}"
    return f"each trial's last step (steps {analysis.end_steps[0]:,} to {analysis.end_steps[-1]:,})"


def _against(best: str, comparisons: dict[str, verdicts.Comparison], where: str, seeds: str) -> tuple:
    rows = [[other, f"{num(c.p)}{interval(c.ci)}", num(c.p_value), c.verdict] for other, c in comparisons.items()]
    return (f"{best} against each other setting at {where}",
            f"P(best > other): the chance that a seed of {best} scores higher at {where} than a seed of the other "
            f"{seeds}(ties count 1/2), [95% bootstrap interval]; p: two-sided exact Mann-Whitney test; better or "
            "worse when the interval excludes 1/2 and p < 0.05 (two or three seeds a side can never reach it).",
            ["other setting", "P(best > other)", "p", "verdict"], rows)


def tables(analysis: Analysis) -> list[tuple[str, str, list[str], list[list[str]]]]:
    """(title, note, header, rows) of every table of the report."""
    cols = list(analysis.columns)
    step = analysis.common_step
    compared = [[s.setting, str(s.at_common["score"].n if "score" in s.at_common else 0)]
                + [cell(s.at_common.get(c)) for c in cols] for s in analysis.settings]
    ended = [[s.setting, str(s.n), outcomes(s), collapse(s)] for s in analysis.settings]
    where = f"step {step:,}" if step is not None else "the common step"
    out = [
        (f"Settings compared at {where}" + (", the end of the budget" if analysis.one_answer else ""),
         "Each trial's value at its last evaluation at or before the largest step that every compared trial "
         "reached, so early stops do not count as results" + ("; every compared trial ran its whole budget to "
                                                                "it" if analysis.one_answer else "")
         + ". Mean over seeds [95% bootstrap interval]; IQM where n >= 4. Best setting first.",
         ["setting", "n"] + cols, compared)]
    if not analysis.one_answer and analysis.end_steps:
        place = end_place(analysis)
        ranked = analysis.ranked_at_end
        order = ranked + [s for s in analysis.settings if s not in ranked]
        at_end = [[s.setting, f"{s.at_end} of {s.n}", "yes" if s in ranked else "no"]
                  + [cell(s.finished.get(c)) for c in cols] for s in order]
        out.append((f"At the end of the budget, {place}",
                    "The final values of the seeds that ran their whole budget, mean [95% bootstrap interval]; "
                    "'seeds at the end' says how many of the setting's seeds those are: the others were stopped "
                    "(by ASHA or as collapsed), diverged or failed, and are not in these means. Ranked, best first, "
                    f"only where {MIN_AT_END} or more seeds ran to the end (one survivor's value is not a mean); "
                    "the settings not ranked follow.", ["setting", "seeds at the end", "ranked"] + cols, at_end))
    out.append(("Outcomes and collapse rate",
                "Collapsed: ended by the collapse stopper, or flagged collapsed at the last evaluation; "
                "[95% Wilson interval].", ["setting", "trials", "outcomes", "collapsed"], ended))
    best = analysis.best
    if best is not None and analysis.comparisons:
        out.append(_against(best.setting, analysis.comparisons, where, ""))
    best_end = analysis.best_at_end
    if not analysis.one_answer and best_end is not None and analysis.end_comparisons:
        out.append(_against(best_end.setting, analysis.end_comparisons, end_place(analysis),
                            "among the seeds that ran their whole budget, settings with "
                            f"{MIN_AT_END} or more such seeds only "))
    return out


def markdown(analysis: Analysis, summary: list[str], figures: list[Figure], ui: str) -> str:
    runs = analysis.runs
    lines = [f"# Study report: {runs.study}", "", f"Parent run `{runs.parent_name}` ({runs.parent_id}); "
             f"runs table: {ui}", ""]
    lines += [f"- {line}" for line in summary] + [""]
    for title, note, header, rows in tables(analysis):
        lines += [f"## {title}", "", note, "", *markdown_table(header, rows), ""]
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
