"""Markdown tables, written one way for every table the studies print or keep (the trials table, the
report's tables, FINDINGS.md, the benchmarks' summaries)."""

from __future__ import annotations

from typing import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """The table's lines: the header, its rule, a line per row (cells already formatted)."""
    return [line(header), "|" + "---|" * len(header), *(line(row) for row in rows)]


def line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
