"""The plan of a `--decide` run: which trials each look of seeds trains.

A claim's side (`studies.report.claims.Side`) names a setting of its study's grid by its exact label,
plus the config values it sets itself (a longer budget, another dataset): its trials are that grid
point with those values, once per seed. A look trains, for the comparisons still undecided, the seeds
between the last look's count and its own (`studies.run.decide` runs the looks).
"""

from __future__ import annotations

import dataclasses

from studies.declare.spaces import label_columns, point_labels, points, select
from studies.plan.plan import Plan
from studies.report import claims as claim_registry


def sides_of(parts: list[tuple[str, int, claim_registry.Part]]) -> list[claim_registry.Side]:
    return list(dict.fromkeys(s for _, _, p in parts for s in (p.a, p.b)))


def setting_key(side: claim_registry.Side) -> tuple:
    """What trials a side needs: its setting and the values it sets (two sides reading one metric at two
    steps, or two metrics, of the same trials need them once)."""
    return side.labels, side.sets


def side_points(grid: dict, side: claim_registry.Side, seeds: range) -> list[dict]:
    """The grid point of the side's setting, with the values it sets, once per seed; ValueError naming the
    setting when the study's grid has no such point."""
    columns = label_columns(grid)
    wanted = {k: v for k, v in side.labels if k not in dict(side.sets)}
    found = [p for p in points({k: v for k, v in grid.items() if k != "seed"})
             if point_labels(columns, p) == wanted]
    if len(found) != 1:
        raise ValueError(f"claim side {side.setting!r}: study {side.study}'s grid has "
                         f"{'no' if not found else len(found)} such setting")
    return [{**found[0], **dict(side.sets), "seed": seed} for seed in seeds]


def look_points(grid: dict, sides: list[claim_registry.Side], seeds: range) -> list[dict]:
    chosen, seen = [], set()
    for side in sides:
        if setting_key(side) in seen:
            continue
        seen.add(setting_key(side))
        chosen += side_points(grid, side, seeds)
    return chosen


def decide_plan(plan: Plan, ids: list[str] | None) -> Plan:
    """The plan of a --decide run: FIFO over the first look's points of every side (its configs); every side's
    configs up to the cap are validated now, before Ray, so a bad side fails here."""
    from gan_core.config import TrainConfig
    from studies.declare.spaces import expand

    parts = claim_registry.parts_of(plan.study.name, ids)
    grid = {k: v for k, v in plan.space.items() if k != "seed"}
    sides = sides_of(parts)
    for values in expand(plan.base, select(look_points(grid, sides, range(plan.looks[-1])))):
        TrainConfig.from_dict(values)  # every side at the cap is a valid trial
    first = select(look_points(grid, sides, range(plan.looks[0])))
    configs = [TrainConfig.from_dict(values) for values in expand(plan.base, first)]
    return dataclasses.replace(plan, space=first, grid=plan.space, configs=configs,
                               decide=tuple(f"{cid}.{i + 1}" for cid, i, _ in parts))
