"""A define-by-run Optuna space over the loss family and its hyperparameters,
conditional where the knobs are: the clip value only for a loss that clips
(WGAN), the penalty weight only for one with the gradient penalty (WGAN-GP),
label smoothing only for the losses with targets. The losses and what each
takes come from `gan_core.losses.LOSSES`. It only suggests values; nothing is
computed here."""



def space(trial) -> dict:
    from gan_core.losses import LOSSES  # the registry, read when Optuna asks (listing studies loads no torch)

    name = trial.suggest_categorical("loss", list(LOSSES))
    loss, constants = LOSSES[name], {}
    if loss.clip:
        trial.suggest_float("clip_value", 0.005, 0.05, log=True)
        trial.suggest_categorical("opt_d", ["rmsprop", "adam"])
    if loss.penalty == "gp":
        trial.suggest_float("gp_weight", 1.0, 30.0, log=True)
    if loss.smoothing:
        real = trial.suggest_float("_real_label_low", 0.7, 1.0)
        constants["real_label"] = (real, 1.0)
    trial.suggest_float("lr_d", 5e-5, 1e-3, log=True)
    trial.suggest_float("lr_g", 5e-5, 1e-3, log=True)
    beta1 = trial.suggest_categorical("_beta1", [0.0, 0.5])
    constants.update(betas_d=(beta1, 0.9 if beta1 == 0.0 else 0.999), betas_g=(beta1, 0.9 if beta1 == 0.0 else 0.999))
    trial.suggest_int("d_steps", 1, 5)
    if loss.penalty == "gp":  # batch norm breaks the per-example gradient penalty (Gulrajani et al. 2017)
        constants["norm_d"] = trial.suggest_categorical("_critic_norm", ["layer", "spectral", "none"])
    else:
        trial.suggest_categorical("norm_d", ["batch", "spectral", "layer"])
    return constants
