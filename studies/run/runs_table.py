"""How a study run reads in MLflow's UI: a saved view of it in the runs table, made when the study starts,
and its parent run's description, the study's answer (`describe`: the report writes it).

Each study run (parent run) gets a saved view of the runs table, stored where MLflow keeps the views its UI
saves (3.15 on): an experiment tag `mlflow.sharedViewState.<id>` holding `{"name", "createdAt", "updatedAt",
"state"}`, the state being the UI's own JSON (search facets and table state). The view shows this study
run only (the filter `tags.gan.study_run = '<parent run name>'`, a tag on the parent and on every child run),
grouped by setting (`gan.group`; the parent is a group of its own, named for the answer on its page), the
best score first, with the columns score, modes_covered, the study's own metrics and `gan.status` (the
trial's outcome), and a run-name column wide enough for a group's name. It opens from the Views menu, or
by its address (`tracking.ui_hint`): `#/experiments/<id>/runs?workflowType=machine_learning&viewStateShareKey=<id>`
(an older MLflow ignores the key and opens its default table). Each child run's name, its label's values
(`bce 1:5 s0`), is `tracking.run_name`'s.
"""

from __future__ import annotations

import json
import time

from mlflow.tracking import MlflowClient

from studies.run import tracking

VIEW_TAG = "mlflow.sharedViewState."  # + view id: where the MLflow UI keeps the saved views of an experiment's runs
PARENT_GROUP = "study: the answer is on its page"  # the parent run's gan.group, its group's name in the view
NAME_WIDTH = 330  # px of the run-name column: "Group: norm_d=batch input_norm=imagenet" whole
TAG_NOTE = "mlflow.note.content"  # a run's description in the MLflow UI (markdown)
MAX_NOTE = 8000  # MLflow's longest tag value


def view_id(parent_name: str) -> str:
    """The saved view of one study run: its parent run's name (`dg_ratio-20261207-104138`)."""
    return parent_name


def view_state(parent_name: str, metrics: tuple[str, ...] = ()) -> dict:
    """The runs table of one study run, as the MLflow UI stores it (search facets and table state)."""
    metric_columns = [f"metrics.`{m}`" for m in dict.fromkeys(("score", "modes_covered", *metrics))]
    columns = [*metric_columns, f"tags.`{tracking.TAG_STATUS}`"]
    name = "attributes.`Run Name`"
    return {
        "searchFilter": f"tags.`{tracking.TAG_STUDY_RUN}` = '{parent_name}'",
        "orderByKey": "metrics.`score`", "orderByAsc": False,
        "selectedColumns": columns,
        "columnOrder": [name, *columns],
        "columnWidths": {name: NAME_WIDTH, "metrics.`score`": 120, "metrics.`modes_covered`": 120,
                         f"tags.`{tracking.TAG_STATUS}`": 120},
        "groupBy": {"aggregateFunction": "average",
                    "groupByKeys": [{"mode": "tag", "groupByData": tracking.TAG_GROUP}]},
        "groupsExpanded": {},  # every group open: each trial's row shows
    }


def write_view(client: MlflowClient, exp_id: str, parent_name: str, metrics: tuple[str, ...] = ()) -> str:
    """Save (or bring up to date) the study run's view on its experiment; its id."""
    key = f"{VIEW_TAG}{view_id(parent_name)}"
    state = view_state(parent_name, metrics)
    tags = tracking.retry(client.get_experiment, exp_id).tags
    now = int(time.time() * 1000)
    created = now
    if key in tags:
        try:
            saved = json.loads(tags[key])
            if json.loads(saved["state"]) == state:
                return view_id(parent_name)
            created = int(saved.get("createdAt", now))
        except (ValueError, KeyError, TypeError):
            pass
    envelope = {"name": f"{parent_name}: by setting", "createdAt": created, "updatedAt": now,
                "state": json.dumps(state, separators=(",", ":"))}
    tracking.retry(client.set_experiment_tag, exp_id, key, json.dumps(envelope, separators=(",", ":")))
    return view_id(parent_name)


def open_view(client: MlflowClient, study: dict, metrics: tuple[str, ...] = ()) -> str:
    """The view of a study run (`study`: its saved state, as `execute.open_study` makes it), its parent run
    tagged for it, and any child run made before the tags were (a study resumed across the change)."""
    exp_id, parent_id, parent_name = study["experiment_id"], study["parent_run_id"], study["parent_run_name"]
    tracking.set_tags(client, parent_id, {tracking.TAG_STUDY_RUN: parent_name, tracking.TAG_GROUP: PARENT_GROUP})
    query = f"tags.`mlflow.parentRunId` = '{parent_id}'"
    for child in tracking.retry(client.search_runs, [exp_id], filter_string=query, max_results=10_000):
        if tracking.TAG_STUDY_RUN not in child.data.tags:
            tracking.retry(client.set_tag, child.info.run_id, tracking.TAG_STUDY_RUN, parent_name)
    return write_view(client, exp_id, parent_name, metrics)


def address(tracking_uri: str, study: dict) -> str:
    """Where the study run's view of the runs table opens (or the `mlflow ui` to start first)."""
    return tracking.ui_hint(tracking_uri, study["experiment_id"], view_id(study["parent_run_name"]))


def has_view(client: MlflowClient, exp_id: str, parent_name: str) -> bool:
    """Whether the experiment holds the view of this study run (one made before views were saved does not)."""
    tags = tracking.retry(client.get_experiment, exp_id).tags
    return f"{VIEW_TAG}{view_id(parent_name)}" in tags


def describe(client: MlflowClient, run_id: str, lines: list[str]) -> None:
    """The run's description in the MLflow UI (`mlflow.note.content`): the lines, one paragraph each."""
    tracking.retry(client.set_tag, run_id, TAG_NOTE, "\n\n".join(lines)[:MAX_NOTE])
