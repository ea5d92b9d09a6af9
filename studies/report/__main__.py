"""`python -m studies.report`: a study's report, or FINDINGS.md (see `studies.report.build`)."""

import sys

from studies.report.build import main

sys.exit(main())
