"""Running a plan: the driver (`execute`, `decide`), the Ray Tune trainable (`trainable`), what trials
log to MLflow (`tracking`) and copy from it (`reuse`), the schedulers (`halving`, `population`) and
stoppers (`stoppers`), and picking a study up again (`resume`)."""
