"""A define-by-run Optuna space over the loss family and its hyperparameters,
conditional where the knobs are: the clip value only for WGAN, the penalty
weight only for WGAN-GP, label smoothing only for the losses with targets.
It only suggests values; nothing is computed here."""

LOSSES = ["bce", "minimax", "wgan", "wgan-gp", "lsgan", "hinge"]
SMOOTHABLE = {"bce", "minimax", "lsgan"}


def space(trial) -> dict:
    loss = trial.suggest_categorical("loss", LOSSES)
    constants = {}
    if loss == "wgan":
        trial.suggest_float("clip_value", 0.005, 0.05, log=True)
        trial.suggest_categorical("opt_d", ["rmsprop", "adam"])
    elif loss == "wgan-gp":
        trial.suggest_float("gp_weight", 1.0, 30.0, log=True)
    if loss in SMOOTHABLE:
        real = trial.suggest_float("_real_label_low", 0.7, 1.0)
        constants["real_label"] = (real, 1.0)
    trial.suggest_float("lr_d", 5e-5, 1e-3, log=True)
    trial.suggest_float("lr_g", 5e-5, 1e-3, log=True)
    beta1 = trial.suggest_categorical("_beta1", [0.0, 0.5])
    constants.update(betas_d=(beta1, 0.9 if beta1 == 0.0 else 0.999), betas_g=(beta1, 0.9 if beta1 == 0.0 else 0.999))
    trial.suggest_int("d_steps", 1, 5)
    if loss == "wgan-gp":  # batch norm breaks the per-example gradient penalty (Gulrajani et al. 2017)
        constants["norm_d"] = trial.suggest_categorical("_critic_norm", ["layer", "spectral", "none"])
    else:
        trial.suggest_categorical("norm_d", ["batch", "spectral", "layer"])
    return constants
