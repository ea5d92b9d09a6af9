"""What a trial's worker process loads before its first round: importing the trainable, then
building a default stacked-digits trial and training one round, in a fresh process, loads none of
the libraries that only other datasets, other metrics, the MLflow thread or the reports need.
Each of them cost a first trial seconds before its first round (torchvision pulled in torch's
compiler stack with the sample grid's layout, scikit-learn and SciPy came with the digits).

Not listed: pandas and pyarrow, which Ray Tune imports itself (a Tune worker holds them before
the trainable is unpickled), and torch._dynamo, which torch's optimizers import when the first is
made (in the build; importing the trainable must not load it)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_NEEDED = ("torchvision", "sklearn", "scipy", "matplotlib", "torch_fidelity", "PIL", "statsmodels", "optuna",
              "mlflow", "sqlalchemy")
CODE = textwrap.dedent("""
    import json, sys
    import torch
    torch.set_num_threads(1)
    import studies.run.trainable
    imported = set(sys.modules)
    from gan_core import TrainConfig, steps
    from gan_core.train import build
    steps.one_round(build(TrainConfig(dataset="stacked-digits")))
    print(json.dumps({"import": sorted(imported), "first round": sorted(sys.modules)}))
""")


def test_a_trial_imports_only_what_its_dataset_and_metrics_need():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    for when, modules in loaded.items():
        found = sorted({name.split(".")[0] for name in modules} & set(NOT_NEEDED))
        assert not found, f"loaded by the {when}: {found}"
    assert "torch._dynamo" not in loaded["import"]  # torchvision's import brought it with the trainable
    assert {"studies.run.trainable", "gan_core.train", "ray.tune"} <= set(loaded["import"])
