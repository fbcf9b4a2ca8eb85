"""benchmarks/dish_study.py's report: rows of several run folders and the committed record
merge into one record, and every comparison is paired on the trials both recipes ran."""
import json

import numpy as np

from benchmarks import dish_study as ds


def _row(recipe, trial, noise, rng):
    truth = rng.standard_normal(40)
    return {"recipe": recipe, "trial": trial, "size": 100, "seed": 0,
            "kendall": 0.0, "spearman": 0.0, "fit_seconds": 1.0, "query_seconds": 0.4,
            "config": {}, "test_hashes": ["h"] * 40, "test_truth": truth.tolist(),
            "predictions": (truth + noise * rng.standard_normal(40)).tolist()}


def test_report_merges_lanes_and_pairs_recipes_on_common_trials(tmp_path):
    lanes = [tmp_path / "w1", tmp_path / "w2"]
    for lane, trials in zip(lanes, ([3, 4], [5])):
        lane.mkdir()
        rows = []
        for t in trials:
            # the same truth for both recipes of a trial (the same seed), other noise
            rows += [_row("none", t, 2.0, np.random.default_rng(t)),
                     _row("untrained-meta", t, 0.1, np.random.default_rng(t))]
        (lane / "rows.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
    (tmp_path / "res").mkdir()
    args = ["--results", str(tmp_path / "res"), "report", "--work", *map(str, lanes),
            "--trials", "3", "4", "5", "--reps", "50"]
    assert ds.main(args) == 0
    out = json.loads((tmp_path / "res" / "dish_study.json").read_text())
    (d,) = [x for x in out["differences"] if x["recipe"] == "untrained-meta"]
    assert d["against"] == "none" and d["trial_ids"] == [3, 4, 5] and d["trials"] == 3
    assert d["ci_low"] > 0  # the less noisy predictions rank better on every trial
    rec = (tmp_path / "res" / ds.ROWS).read_text().splitlines()
    assert len(rec) == 6 and "test_hashes" not in json.loads(rec[0])
    assert "| 100 | untrained-meta | none | 3 |" in (tmp_path / "res" / "DISH.md").read_text()
    # the record alone (a fresh machine without the run folders) reports the same
    assert ds.main(["--results", str(tmp_path / "res"), "report", "--work",
                    str(tmp_path / "gone"), "--trials", "3", "4", "5", "--reps", "50"]) == 0
    again = json.loads((tmp_path / "res" / "dish_study.json").read_text())
    assert again["differences"] == out["differences"]


def test_dynamics_reads_out_of_sample_steps_from_the_first_pass():
    # 100 cells, 20 % held out, 12 motifs a step: the first pass is 6 steps (80 // 12)
    hist = [{"step": 0, "holdout_tau": 0.1}] + [
        {"step": k, "train_tau": 0.1 * k} for k in range(1, 21)]
    row = {"recipe": "meta-accuracy", "trial": 3, "size": 100, "history": hist,
           "config": {"metadish": {"holdout": 0.2, "motifs_per_step": 12}},
           "metadish": {"holdout_tau": 0.3, "chosen_step": 20}}
    (d,) = ds.dynamics({("meta-accuracy", 3, 100): row}, [3])
    assert d["first_pass_steps"] == 6 and d["trials"] == [3]
    assert np.isclose(d["train_tau_first_half"], 0.2)  # steps 1-3
    assert np.isclose(d["train_tau_second_half"], 0.5)  # steps 4-6
    assert np.isclose(d["train_tau_last10"], 1.55)  # steps 11-20
    assert d["holdout_tau_untrained"] == 0.1 and d["chosen_steps"] == [20]
    assert ds.dynamics({("meta-accuracy", 3, 100): row}, [4]) == []  # other trials only
