"""The training loop: reports, D:G schedule, label targets, determinism,
exact resume, divergence, on tiny nets for every registered loss."""

import math

import numpy as np
import pytest
import torch

from gan_core import TrainConfig

from gan_core.train import train
from gan_core.datasets import DATASETS, Dataset, DatasetEntry, mixture_sampler
from gan_core.losses import LOSSES
from gan_core.steps import d_step, g_step, targets, to_data, to_model
from gan_core.train import build, drain

from conftest import TINY_IMAGES, TINY_POINTS


def run_reports(values: dict, state=None):
    reports = []
    status = train(TrainConfig.from_dict(values), reports.append, state)
    return status, reports



@pytest.mark.parametrize("case", [TINY_IMAGES, TINY_POINTS], ids=["images", "points"])
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_trains_and_reports_finite_metrics(case, loss):
    status, reports = run_reports({**case, "loss": loss})
    assert status == "finished"
    assert [r["step"] for r in reports] == [1, 2]
    assert [r["status"] for r in reports] == ["running", "finished"]
    for report in reports:
        metrics = report["metrics"]
        for key in ("loss_d", "loss_g", "d_real", "d_fake", "diversity", "score", "collapsed", "modes_covered"):
            assert isinstance(metrics[key], float) and math.isfinite(metrics[key]), key
        assert report["image"].dtype == np.uint8 and report["image"].shape[2] == 3
        assert set(report["state"]) >= {"g", "d", "opt_g", "opt_d", "step", "rng_train"}
    if LOSSES[loss].penalty == "gp":
        assert reports[-1]["metrics"]["penalty"] >= 0


@pytest.mark.parametrize("d_steps, g_steps", [(1, 1), (5, 1), (1, 5), (3, 2)])
def test_d_and_g_steps_run_that_many_updates(d_steps, g_steps):
    _, reports = run_reports({**TINY_POINTS, "d_steps": d_steps, "g_steps": g_steps, "max_steps": 3, "eval_every": 3})
    state = reports[-1]["state"]
    assert (state["d_updates"], state["g_updates"]) == (3 * d_steps, 3 * g_steps)
    adam_steps = lambda opt: {int(s["step"]) for s in opt["state"].values()}
    assert adam_steps(state["opt_d"]) == {3 * d_steps} and adam_steps(state["opt_g"]) == {3 * g_steps}


def test_update_order_decides_which_network_steps_first():
    def first_loss_g(order):
        return run_reports({**TINY_POINTS, "order": order})[1][0]["metrics"]["loss_g"]

    def by_hand(*updates):
        run = build(TrainConfig.from_dict(TINY_POINTS))
        for update in updates:
            update(run)
        return drain(run)["loss_g"]

    assert first_loss_g("g_first") == by_hand(g_step)  # G against the untrained D
    assert first_loss_g("d_first") == by_hand(d_step, g_step)  # G against D after its first update
    assert by_hand(g_step) != by_hand(d_step, g_step)


@pytest.mark.parametrize("flip", [0.0, 0.3])
def test_label_targets_fall_in_their_ranges(flip):
    run = build(TrainConfig.from_dict({**TINY_POINTS, "real_label": (0.7, 1.2), "fake_label": (0.0, 0.3), "label_flip": flip}))
    real_t, fake_t = targets(run, 20000)
    in_real = lambda t: (t >= 0.7) & (t <= 1.2)
    in_fake = lambda t: (t >= 0.0) & (t <= 0.3)
    assert bool((in_real(real_t) | in_fake(real_t)).all()) and bool((in_real(fake_t) | in_fake(fake_t)).all())
    flipped = in_fake(real_t).float().mean().item()
    assert flipped == pytest.approx(flip, abs=0.02)
    assert real_t[in_real(real_t)].std() > 0.1  # sampled per example, not a constant
    assert torch.equal(in_fake(real_t), in_real(fake_t))  # a flip swaps both targets of an example


def test_one_sided_smoothing_sets_real_targets_only():
    run = build(TrainConfig.from_dict({**TINY_POINTS, "real_label": (0.9, 0.9)}))
    real_t, fake_t = targets(run, 100)
    assert torch.allclose(real_t, torch.full((100,), 0.9)) and torch.equal(fake_t, torch.zeros(100))


def test_same_seed_same_losses_other_seed_other_losses():
    for case in (TINY_IMAGES, TINY_POINTS):
        a = [r["metrics"]["loss_d"] for r in run_reports({**case, "max_steps": 3})[1]]
        b = [r["metrics"]["loss_d"] for r in run_reports({**case, "max_steps": 3})[1]]
        c = [r["metrics"]["loss_d"] for r in run_reports({**case, "max_steps": 3, "seed": 1})[1]]
        assert a == b and a != c


@pytest.mark.parametrize("case", [TINY_IMAGES, {**TINY_POINTS, "loss": "wgan-gp"}], ids=["dcgan-bce", "mlp-wgan-gp"])
def test_resume_from_state_equals_an_uninterrupted_run(case):
    values = {**case, "max_steps": 6, "eval_every": 2}
    _, whole = run_reports(values)
    _, first = run_reports({**values, "max_steps": 4})
    _, rest = run_reports(values, state=first[-1]["state"])
    assert [r["step"] for r in rest] == [6]
    keys = ("loss_d", "loss_g", "d_real", "d_fake", "score")
    assert {k: rest[-1]["metrics"][k] for k in keys} == {k: whole[-1]["metrics"][k] for k in keys}
    for name, tensor in whole[-1]["state"]["g"].items():
        assert torch.equal(tensor, rest[-1]["state"]["g"][name]), name


def test_resume_with_a_different_model_is_refused():
    _, reports = run_reports(TINY_POINTS)
    with pytest.raises(ValueError, match="^state: was saved with another config"):
        run_reports({**TINY_POINTS, "ngf": 32}, state=reports[-1]["state"])


def test_resume_of_a_finished_run_reports_nothing_more():
    _, reports = run_reports(TINY_POINTS)
    status, again = run_reports(TINY_POINTS, state=reports[-1]["state"])
    assert status == "finished" and again == []


def test_time_cap_on_a_step_budget_ends_the_run_as_timed_out():
    status, reports = run_reports({**TINY_POINTS, "max_steps": 10**6, "eval_every": 10**6, "max_seconds": 1.0})
    assert status == "timed_out" and len(reports) == 1 and reports[0]["status"] == "timed_out"
    assert reports[0]["metrics"]["finished"] == 0.0 and reports[0]["metrics"]["timed_out"] == 1.0
    assert reports[0]["step"] > 10


def test_time_is_the_budget_when_max_steps_is_zero():
    status, reports = run_reports({**TINY_POINTS, "max_steps": 0, "eval_every": 10**6, "max_seconds": 1.0})
    assert status == "finished" and len(reports) == 1
    assert reports[0]["metrics"]["finished"] == 1.0 and reports[0]["metrics"]["timed_out"] == 0.0
    with pytest.raises(ValueError, match="max_steps: 0"):
        TrainConfig.from_dict({**TINY_POINTS, "max_steps": 0})


@pytest.mark.parametrize("d_steps,g_steps", [(1, 1), (5, 1), (1, 2), (1, 5)])
def test_an_updates_budget_gives_every_ratio_the_same_work_and_evaluation_points(d_steps, g_steps):
    per_round = d_steps + g_steps
    status, reports = run_reports({**TINY_POINTS, "budget": "updates", "d_steps": d_steps, "g_steps": g_steps,
                                   "max_steps": 36, "eval_every": 12})
    assert status == "finished"
    assert [r["work"] for r in reports] == [12, 24, 36]
    assert [r["step"] for r in reports] == [12 // per_round, 24 // per_round, 36 // per_round]
    last = reports[-1]["metrics"]
    assert last["d_updates"] + last["g_updates"] == 36 and last["work"] == 36.0


def test_an_uneven_updates_budget_evaluates_at_the_first_round_past_each_mark():
    # a 3:1 round is 4 updates: marks at 10, 20, 30 are reached after rounds 3 (12), 5 (20) and 8 (32)
    _, reports = run_reports({**TINY_POINTS, "budget": "updates", "d_steps": 3, "max_steps": 30, "eval_every": 10})
    assert [r["work"] for r in reports] == [12, 20, 32] and reports[-1]["status"] == "finished"


def test_nan_loss_ends_the_run_as_diverged(monkeypatch):
    bad = Dataset("nan-points", "points", (2,), mixture_sampler(torch.tensor([[float("nan"), 0.0]]), 0.1), None, None)
    monkeypatch.setitem(DATASETS, "nan-points", DatasetEntry(lambda image_size, data_root: bad, "points"))
    status, reports = run_reports({**TINY_POINTS, "dataset": "nan-points", "max_steps": 5})
    assert status == "diverged"
    assert reports[-1]["status"] == "diverged" and reports[-1]["metrics"]["diverged"] == 1.0
    assert reports[-1]["state"] is None and len(reports) == 1


def test_imagenet_input_normalization_round_trips():
    run = build(TrainConfig.from_dict({**TINY_IMAGES, "input_norm": "imagenet"}))
    x = run.data.sample(8, torch.Generator().manual_seed(0))
    assert torch.allclose(to_data(run, to_model(run, x)), x, atol=1e-6)
    assert to_model(run, x).min() < -1.5  # ImageNet standardisation leaves the tanh range
    status, _ = run_reports({**TINY_IMAGES, "input_norm": "imagenet"})
    assert status == "finished"


def test_collapsed_needs_two_low_evaluations_running():
    # a tiny MLP G at step 1-3 covers few ring modes; threshold 1.0 makes every evaluation low
    _, reports = run_reports({**TINY_POINTS, "max_steps": 3, "collapse_threshold": 1.0, "collapse_quality": 0.0})
    assert [r["metrics"]["collapsed"] for r in reports] == [0.0, 1.0, 1.0]
    _, reports = run_reports({**TINY_POINTS, "max_steps": 3, "collapse_threshold": 0.0})
    assert [r["metrics"]["collapsed"] for r in reports] == [0.0, 0.0, 0.0]


def test_a_state_continues_under_new_learning_rates_and_ratio_only_through_continue_with():
    from gan_core.train import continue_with

    values = {**TINY_POINTS, "budget": "updates", "max_steps": 36, "eval_every": 12}
    _, first = run_reports({**values, "max_steps": 12})  # 6 rounds at 1:1
    changed = TrainConfig.from_dict({**values, "d_steps": 5, "lr_d": 1e-3, "lr_g": 5e-5})
    with pytest.raises(ValueError, match="differs in d_steps, lr_d, lr_g"):
        train(changed, lambda payload: None, first[-1]["state"])
    rest = []
    assert train(changed, rest.append, continue_with(first[-1]["state"], changed)) == "finished"
    # work is counted round by round: 12 at 1:1, then 6 per 5:1 round, evaluated at each mark of 12
    assert [r["work"] for r in rest] == [24, 36] and [r["step"] for r in rest] == [8, 10]
    state = rest[-1]["state"]
    assert (state["d_updates"], state["g_updates"]) == (6 + 4 * 5, 6 + 4)
    assert {g["lr"] for g in state["opt_d"]["param_groups"]} == {1e-3}
    assert {g["lr"] for g in state["opt_g"]["param_groups"]} == {5e-5}


def test_a_state_saved_before_work_was_counted_resumes_at_its_rounds_times_the_ratio():
    values = {**TINY_POINTS, "budget": "updates", "d_steps": 2, "max_steps": 24, "eval_every": 12}
    _, first = run_reports({**values, "max_steps": 12})
    old = {k: v for k, v in first[-1]["state"].items() if k != "work"}
    _, rest = run_reports(values, state=old)
    assert [r["work"] for r in rest] == [24]


@pytest.mark.parametrize("arch", ["dcgan", "upsample"])  # upsample's G draws dropout masks from the global stream
def test_started_gets_the_untrained_grid_and_training_is_the_same_without_it(arch):
    values = {**TINY_IMAGES, "arch": arch, "max_steps": 3}
    previews = []
    status, watched = "", []
    status = train(TrainConfig.from_dict(values), watched.append, started=previews.append)
    plain = run_reports(values)[1]
    (image,) = previews
    assert status == "finished" and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert [r["metrics"]["loss_g"] for r in watched] == [r["metrics"]["loss_g"] for r in plain]
    resumed = []
    train(TrainConfig.from_dict({**values, "max_steps": 4}), lambda r: None, watched[-1]["state"], started=resumed.append)
    assert resumed == [None]  # a resume has no untrained G to show
