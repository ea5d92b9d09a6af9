"""The MLflow runs table a study opens with, read in a real browser: a `dg_ratio --smoke` study logs
through a real `mlflow server` on 127.0.0.1, and headless Chromium (driven by Playwright) opens the
address the study prints, 1,600 px wide. From the page itself (the DOM, as laid out), each child run's
name, its setting, shows whole in the name column (no ancestor up to its cell clips it), and the score,
modes_covered and gan.status columns are there with each trial's values; the parent run's page holds
the study's answer in its description. Screenshots of both pages are left in the test's tmp folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from local_cluster import free_port, mlflow_server
from studies.run import records

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1600, 900
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NAME, SCORE, MODES, STATUS = "attributes.`Run Name`", "metrics.`score`", "metrics.`modes_covered`", "tags.`gan.status`"

# Every row of the runs table (ag-grid splits a row between its pinned and scrolled parts, one row-index),
# each cell's text by column id, and whether the run name's text is clipped: wider than an element it sits
# in, from its own span up to its cell, or reaching past the cell's right edge.
READ_TABLE = """() => {
  const rows = {};
  for (const cell of document.querySelectorAll('[role="row"][row-index] [role="gridcell"][col-id]')) {
    const index = cell.closest('[role="row"]').getAttribute('row-index');
    const row = rows[index] = rows[index] || {cells: {}};
    row.cells[cell.getAttribute('col-id')] = cell.innerText.trim();
    const link = cell.getAttribute('col-id') === %r && cell.querySelector('a[href*="/runs/"]');
    if (link) {
      const text = link.querySelector('span') || link;
      let clipped = text.getBoundingClientRect().right > cell.getBoundingClientRect().right + 1;
      for (let el = text; el && el !== cell.parentElement; el = el.parentElement) {
        if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) clipped = true;
      }
      row.name = link.innerText.trim();
      row.clipped = clipped;
    }
  }
  const headers = [...document.querySelectorAll('[role="columnheader"][col-id]')].map(
    h => [h.getAttribute('col-id'), h.innerText.trim()]);
  return {rows: Object.values(rows), headers: headers};
}""" % NAME


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("headless Chromium is not installed (Debian package `chromium`; .ci/run installs it)")
    return found


@contextmanager
def browser_page():
    """A page of the system's Chromium (Playwright drives it; it downloads no browser of its own), 1,600 px
    wide, in a fresh profile."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium()
    with sync_api.sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=executable, args=CHROMIUM_FLAGS, headless=True,
            viewport={"width": WIDTH, "height": HEIGHT})
        try:
            yield context.new_page()
        finally:
            context.close()


def read_table(page, names: list[str]) -> dict:
    """The runs table once every one of `names` is laid out in it."""
    for name in names:
        page.get_by_role("link", name=name, exact=True).first.wait_for(state="visible", timeout=90_000)
    page.wait_for_timeout(1000)  # the column widths of the view apply once the grid is up
    return page.evaluate(READ_TABLE)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A `dg_ratio --smoke` study logged through a real MLflow server; the server, its URI and the study's
    printed output."""
    folder = tmp_path_factory.mktemp("runs-table")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_DEDUP_LOGS": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    port = free_port()
    server = mlflow_server(folder / "server", port, env)
    uri = f"http://127.0.0.1:{port}"
    try:
        proc = subprocess.run([sys.executable, "-m", "studies.dg_ratio", "--smoke", "--tracking-uri", uri,
                               "--storage", str(folder / "ray")], cwd=folder, env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        yield uri, proc.stdout
    finally:
        server.kill()


def test_the_runs_table_at_1600_px_shows_each_setting_whole_and_score_modes_and_status(study, tmp_path):
    uri, out = study
    address = re.search(r"^Open the runs table: (\S+)$", out, re.M).group(1)
    assert address.startswith(f"{uri}/#/experiments/") and "viewStateShareKey=" in address
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("dg_ratio")
    children = [r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 4
    names = {records.run_name(c.data.tags["gan.setting"]): c for c in children}
    assert set(names) == {"bce 1:5 s0", "bce 5:1 s0", "wgan-gp 1:5 s0", "wgan-gp 5:1 s0"}
    with browser_page() as page:
        page.goto(address)
        table = read_table(page, list(names))
        page.screenshot(path=str(tmp_path / "runs-table.png"))
    headers = dict(table["headers"])
    assert headers.get(SCORE) == "score" and headers.get(MODES) == "modes_covered", headers
    assert headers.get(STATUS) == "gan.status", headers
    shown = {row["name"]: row for row in table["rows"] if row.get("name") in names}
    assert set(shown) == set(names), [row.get("name") for row in table["rows"]]
    for name, row in shown.items():
        run = names[name]
        assert not row["clipped"], f"{name!r} is cut in the name column"
        assert row["cells"][STATUS] == run.data.tags["gan.status"], row
        assert row["cells"][MODES] == f"{run.data.metrics['modes_covered']:g}", row
        assert row["cells"][SCORE] not in ("", "-"), row
    assert (tmp_path / "runs-table.png").stat().st_size > 10_000


def test_the_parent_runs_page_says_the_answer(study, tmp_path):
    uri, out = study
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("dg_ratio")
    parent = client.search_runs([exp.experiment_id], "tags.role = 'study'")[0]
    answer = [line for line in out.splitlines() if line.startswith(("dg_ratio (", "Best: "))]
    assert len(answer) == 2, out[-2000:]
    with browser_page() as page:
        page.goto(f"{uri}/#/experiments/{exp.experiment_id}/runs/{parent.info.run_id}")
        description = page.get_by_text(answer[0], exact=True).first
        description.wait_for(state="attached", timeout=90_000)
        description.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "parent-run.png"))
        text = page.inner_text("body")
    assert all(line in text for line in answer), text[-3000:]
    assert re.search(r"Report: \S*report\.html, and in this run's artifacts: report/report\.html", text)
