"""The report: per-test results collected across xdist workers, the JSON report, the summary."""
