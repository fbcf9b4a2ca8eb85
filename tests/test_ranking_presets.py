"""benchmarks/ranking_presets.py: a job fits a shipped preset end to end and records its
models' own Kendall tau; the report merges lanes with the committed record and pairs each
preset with the reference on the trials both ran."""
import json

import numpy as np

from benchmarks import ranking_presets as rp


def test_a_job_fits_a_preset_and_scores_it_and_its_models(table, monkeypatch):
    cells = [table.cell(i) for i in range(200)]
    monkeypatch.setattr(rp, "split", lambda table, trial, size, metric:
                        (cells[:size], cells[150:]))
    row = rp.run_job(table, "cell-features-boosted", "test", 3, 60)
    assert (row["preset"], row["metric"], row["trial"], row["size"]) == \
        ("cell-features-boosted", "test", 3, 60)
    assert set(row["models_kendall"]) == {"trees", "graph"}
    assert len(row["predictions"]) == len(row["test_truth"]) == 50
    assert row["config"]["seed"] == 3 and row["fit_seconds"] > 0
    assert -1 <= row["kendall"] <= 1 and row["kendall"] > 0.2  # synthetic accuracies are learnable


def _row(preset, trial, noise, rng, metric="test"):
    truth = rng.standard_normal(40)
    return {"preset": preset, "metric": metric, "trial": trial, "size": 100,
            "kendall": 0.5, "spearman": 0.6, "models_kendall": {"trees": 0.4, "graph": 0.3},
            "fit_seconds": 10.0, "query_ms_per_cell": 0.3, "config": {},
            "test_truth": truth.tolist(),
            "predictions": (truth + noise * rng.standard_normal(40)).tolist()}


def test_report_pairs_presets_with_the_reference_on_common_trials(tmp_path):
    lanes = [tmp_path / "w1", tmp_path / "w2"]
    for lane, trials in zip(lanes, ([3, 4], [5])):
        lane.mkdir()
        rows = []
        for t in trials:
            rows += [_row(rp.REFERENCE, t, 2.0, np.random.default_rng(t)),
                     _row("cell-features-co-trained", t, 0.1, np.random.default_rng(t))]
        (lane / "rows.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
    res = tmp_path / "res"
    res.mkdir()
    args = ["--results", str(res), "report", "--work", *map(str, lanes),
            "--trials", "3", "4", "5", "--reps", "50"]
    assert rp.main(args) == 0
    out = json.loads((res / "ranking_presets.json").read_text())
    (d,) = out["differences"]
    assert d["preset"] == "cell-features-co-trained" and d["trial_ids"] == [3, 4, 5]
    assert d["ci_low"] > 0  # the less noisy predictions rank better on every trial
    page = (res / "RANKING.md").read_text()
    assert "| `cell-features-co-trained` | test | 100 | [3, 4, 5]" not in page
    assert "| `cell-features-co-trained` | test | 100 | 3 |" in page
    assert "PINAT, pairwise ranking loss" in page
    # the record alone (a fresh machine without the run folders) reports the same
    assert rp.main(["--results", str(res), "report", "--work", str(tmp_path / "gone"),
                    "--trials", "3", "4", "5", "--reps", "50"]) == 0
    assert json.loads((res / "ranking_presets.json").read_text())["differences"] == \
        out["differences"]
