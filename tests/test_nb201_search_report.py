"""The NB201 search report: a budget fewer seeds reached than its row's seed count says how
many did (one 300-query BANANAS run among twenty 150-query ones must not read as a curve)."""
from benchmarks import nb201_search as ns


def _row(method, seed, budget, acc):
    grid = list(ns.GRID)
    inc = [acc if n <= budget else None for n in grid]
    return {"dataset": "cifar10", "method": method, "seed": seed, "budget": budget,
            "grid": grid, "incumbent": inc, "wall_seconds": 1.0}


def test_partial_budget_cells_name_their_seed_count():
    rows = [_row("re", s, 300, 0.93 + 0.001 * s) for s in range(3)]
    rows += [_row("bananas", s, 150, 0.92 + 0.001 * s) for s in range(3)]
    rows.append(_row("bananas", 0, 300, 0.92))  # seed 0 again, at 300: the later row wins
    summary = ns.summarize(rows, None)
    b = summary["cifar10"]["methods"]["bananas"]["at"]
    assert b[150]["seeds"] == [0, 1, 2] and b[300]["seeds"] == [0]
    line = next(ln for ln in ns.markdown(summary).splitlines() if ln.startswith("| BANANAS"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1] == "3"
    assert "seeds" not in cells[2 + ns.REPORT_AT.index(150)]
    assert cells[2 + ns.REPORT_AT.index(300)].endswith("(1 of 3 seeds)")
    re_line = next(ln for ln in ns.markdown(summary).splitlines() if ln.startswith("| RE"))
    assert "seeds)" not in re_line
