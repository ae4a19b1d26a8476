"""The transfer study: cross-validation, experiment files, grids, runners, statistics, reports."""
