"""Reading results: a study's report from MLflow (`build`, `runs`, `analysis`, `figures`, `page`,
`search`, `pbt`), the statistics over seeds (`stats`), and the classic claims (`claims`) answered in
FINDINGS.md (`findings`, from the runs of `sources`). `python -m studies.report` is `build.main`."""
