"""The transfer study: experiment files, grids of cells, the protocol's fold rules, cross-validation,
runners (serial, processes, Ray), statistics and reports."""
