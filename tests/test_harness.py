"""benchmarks/harness.py: the mean ± std formatter and the rewriter of a Markdown page's
generated parts (between ``<!-- NAME: begin ... -->`` and ``<!-- NAME: end -->``)."""
import numpy as np
import pytest

from benchmarks import harness

BEGIN, END = harness.markers("part", "python -m benchmarks.x report")


# --- pm ----------------------------------------------------------------------------------


def test_pm_formats_mean_and_std():
    assert harness.pm(0.12345, 0.0456) == "0.123 ± 0.046"
    assert harness.pm(0.12345, 0.0456, digits=1) == "0.1 ± 0.0"
    assert harness.pm(0.5, 0.25, digits=2, sign=True) == "+0.50 ± 0.25"
    assert harness.pm(-0.5, 0.25, digits=2, sign=True) == "-0.50 ± 0.25"
    assert harness.pm(-0.5, 0.25, digits=2) == "-0.50 ± 0.25"
    # scale applies to both; the std never carries a sign
    assert harness.pm(0.9402, 0.0016, digits=2, scale=100) == "94.02 ± 0.16"
    assert harness.pm(0.001, 0.002, digits=3, scale=1000, sign=True) == "+1.000 ± 2.000"


def test_pm_leaves_out_a_missing_std_and_marks_a_missing_mean():
    assert harness.pm(0.25) == "0.250"
    assert harness.pm(0.25, None, sign=True) == "+0.250"
    assert harness.pm(0.25, float("nan"), digits=2, scale=100) == "25.00"
    assert harness.pm(0.25, np.nan) == "0.250"
    assert harness.pm(None) == "-"
    assert harness.pm(None, 0.1, sign=True) == "-"


def _old_predictor_comparison_pm(d, p=3, sign=True):
    if d["mean"] is None:
        return "-"
    f = f"{{:{'+' if sign else ''}.{p}f}}"
    return f.format(d["mean"]) + (f" ± {d['std']:.{p}f}" if d["std"] is not None else "")


def _old_search_comparison_pm(s, scale=100, d=2):
    m, sd = s
    return f"{m * scale:.{d}f}" + ("" if np.isnan(sd) else f" ± {sd * scale:.{d}f}")


def _old_ranking_features_pm(v, d=3):
    v = np.asarray(v, float)
    return f"{v.mean():+.{d}f} ± {v.std(ddof=1):.{d}f}" if len(v) > 1 else f"{v.mean():+.{d}f}"


def test_pm_writes_what_the_three_formatters_it_replaced_wrote():
    """The scripts' own formatters (before harness.pm), on values around the rounding
    edges: the committed tables stay byte for byte the same."""
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 0.3, 300), rng.uniform(0.9, 0.95, 300),
                             np.round(rng.uniform(-1, 1, 200), 3) + 0.0005, [0.0, -0.0]])
    for m, sd in zip(values, np.abs(rng.normal(0, 0.05, len(values)))):
        m, sd = float(m), float(sd)
        for std in (sd, None):
            assert harness.pm(m, std, digits=3, sign=True) == \
                _old_predictor_comparison_pm({"mean": m, "std": std})
        for std in (sd, float("nan")):
            assert harness.pm(m, std, digits=2, scale=100) == _old_search_comparison_pm((m, std))
    for n in (1, 2, 3, 5):
        for _ in range(100):
            v = rng.normal(0.3, 0.1, n).tolist()
            s = harness.seed_stats(v)
            assert harness.pm(s["mean"], s["std"], digits=3, sign=True) == \
                _old_ranking_features_pm(v)
    assert _old_predictor_comparison_pm({"mean": None, "std": None}) == harness.pm(None)


# --- marked sections ---------------------------------------------------------------------


def test_markers_name_the_part_and_its_command():
    assert harness.markers("search", "python -m benchmarks.search_comparison report") == (
        "<!-- search: begin (python -m benchmarks.search_comparison report) -->",
        "<!-- search: end -->")
    assert harness.markers("x") == ("<!-- x: begin -->", "<!-- x: end -->")


def test_replace_section_replaces_only_between_the_markers():
    text = f"# Page\n\nnotes before\n\n{BEGIN}\nold\ntable\n{END}\n\nnotes after\n"
    new = harness.replace_section(text, BEGIN, END, "new\nrows")
    assert new == f"# Page\n\nnotes before\n\n{BEGIN}\nnew\nrows\n{END}\n\nnotes after\n"
    # the same body again: nothing changes (a rerun keeps the page)
    assert harness.replace_section(new, BEGIN, END, "new\nrows") == new
    # whatever follows the end marker stays byte for byte, no newline added or removed
    tight = f"{BEGIN}\nx\n{END}tail without newline"
    assert harness.replace_section(tight, BEGIN, END, "y") == \
        f"{BEGIN}\ny\n{END}tail without newline"
    # a body with a trailing empty line keeps it
    assert harness.replace_section(tight, BEGIN, END, "y\n") == \
        f"{BEGIN}\ny\n\n{END}tail without newline"


def test_replace_section_appends_the_block_when_absent():
    assert harness.replace_section("", BEGIN, END, "body") == f"{BEGIN}\nbody\n{END}\n"
    assert harness.replace_section("# Page\n", BEGIN, END, "body") == \
        f"# Page\n\n{BEGIN}\nbody\n{END}\n"
    assert harness.replace_section("# Page\n\n\n", BEGIN, END, "b") == \
        f"# Page\n\n{BEGIN}\nb\n{END}\n"
    assert harness.replace_section("# Page", BEGIN, END, "b") == f"# Page\n\n{BEGIN}\nb\n{END}\n"
    # an end marker alone (or before the begin marker) is not a section
    text = f"{END}\nprose\n{BEGIN}\n"
    assert harness.replace_section(text, BEGIN, END, "b") == \
        f"{text.rstrip()}\n\n{BEGIN}\nb\n{END}\n"


def test_replace_section_leaves_other_sections_alone():
    b2, e2 = harness.markers("other", "python -m benchmarks.y")
    text = f"{BEGIN}\na\n{END}\n\nprose\n\n{b2}\nb\n{e2}\n"
    out = harness.replace_section(text, b2, e2, "B")
    assert out == f"{BEGIN}\na\n{END}\n\nprose\n\n{b2}\nB\n{e2}\n"
    assert harness.sections(out) == [(BEGIN, END, "a"), (b2, e2, "B")]


def test_write_section_creates_and_rewrites_a_file(tmp_path):
    md = tmp_path / "sub" / "PAGE.md"
    harness.write_section(md, BEGIN, END, "first")
    assert md.read_text() == f"{BEGIN}\nfirst\n{END}\n"
    md.write_text("# Title\n\n" + md.read_text() + "\n## Notes\n\nkept\n")
    harness.write_section(md, BEGIN, END, "second\nline")
    assert md.read_text() == f"# Title\n\n{BEGIN}\nsecond\nline\n{END}\n\n## Notes\n\nkept\n"


def test_write_sections_merges_a_generated_page_into_the_prose(tmp_path):
    h_begin, h_end = harness.markers("head", "cmd")
    page = f"{h_begin}\n# Title\n\n{h_end}\n\n{BEGIN}\n| table |\n{END}\n"
    md = tmp_path / "PAGE.md"
    harness.write_sections(md, page)
    assert md.read_text() == page  # a new page is the generated one
    md.write_text(page.replace(f"{h_end}\n\n", f"{h_end}\n\n## Methods\n\nprose\n\n"))
    harness.write_sections(md, page.replace("# Title", "# New title")
                           .replace("| table |", "| new |\n| rows |"))
    assert md.read_text() == (f"{h_begin}\n# New title\n\n{h_end}\n\n## Methods\n\nprose\n\n"
                              f"{BEGIN}\n| new |\n| rows |\n{END}\n")
    # a part the file lacks is appended; a page without parts is refused
    b3, e3 = harness.markers("third")
    harness.write_sections(md, f"{b3}\nextra\n{e3}\n")
    assert md.read_text().endswith(f"{END}\n\n{b3}\nextra\n{e3}\n")
    with pytest.raises(ValueError, match="nothing marked"):
        harness.write_sections(md, "# no markers\n")


def _committed_pages():
    from benchmarks import dish_study as ds
    from benchmarks import predictor_comparison as pc
    from benchmarks import ranking_features as rf
    from benchmarks import search_comparison as sc
    return {"DISH.md": ([(ds.BEGIN, ds.END)], "## Commands"),
            "COMPARISON.md": ([pc.SECTION, (sc.SECTION_BEGIN, sc.SECTION_END)],
                              "## Notes, cuts and how to continue"),
            "SEARCH.md": ([sc.HEADING, sc.RESULTS], "## Methods and budgets"),
            "RANKING.md": ([(rf.BEGIN, rf.END), (rf.SCREEN_BEGIN, rf.SCREEN_END)],
                           "## What the measurements say")}


@pytest.mark.parametrize("page", ["COMPARISON.md", "SEARCH.md", "RANKING.md", "DISH.md"])
def test_committed_pages_carry_the_markers_their_reports_write(page):
    """Each report finds its parts in the committed page (once, in order), so a rerun
    replaces them and keeps the page's own prose instead of appending a second copy."""
    text = (harness.RESULTS / page).read_text()
    pairs, prose = _committed_pages()[page]
    at = [text.index(b) for b, _ in pairs]
    for begin, end in pairs:
        assert text.count(begin) == 1 and text.count(end) == 1
        assert text.index(begin) < text.index(end)
    assert at == sorted(at)
    found = {(b, e): body for b, e, body in harness.sections(text)}
    for begin, end in pairs:
        assert harness.replace_section(text, begin, end, found[(begin, end)]) == text
    # the page's own prose (e.g. the notes moved out of the scripts) lies outside every part
    outside = text
    for begin, end in pairs:
        outside = outside[:outside.index(begin)] + outside[outside.index(end) + len(end):]
    assert prose in outside


@pytest.mark.parametrize("env, want", [(None, 1), ("2", 2)])
def test_one_thread_reaches_torch_after_import(env, want):
    """The scripts import torch before a command runs, so an OMP_NUM_THREADS set then is
    too late for this process: one_thread must set torch's count itself, and honour an
    explicit OMP_NUM_THREADS."""
    import os
    import subprocess
    import sys

    e = {k: v for k, v in os.environ.items()
         if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    if env is not None:
        e["OMP_NUM_THREADS"] = env
    code = ("import torch; torch.set_num_threads(3); from benchmarks import harness; "
            "n = harness.one_thread(); import os; "
            "print(n, torch.get_num_threads(), os.environ['MKL_NUM_THREADS'])")
    out = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(__file__))).stdout
    n, got, mkl = out.split()
    assert int(n) == want and int(got) == want and mkl == "1"
