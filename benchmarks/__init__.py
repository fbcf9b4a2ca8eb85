"""The reproduction's benchmark scripts (REPORT.md, RANKING.md), run as modules from the
repository root: ``python -m benchmarks.NAME --help``.  Each writes its results to
``benchmarks/results`` through :mod:`benchmarks.harness`; :mod:`benchmarks.run_records`
keeps run summaries in git."""
