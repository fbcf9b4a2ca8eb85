"""The code base stays lint-clean: flake8 with the settings of setup.cfg (line length 100)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_flake8_finds_nothing():
    pytest.importorskip("flake8", reason="flake8 is in the [test] extra")
    res = subprocess.run([sys.executable, "-m", "flake8", "naslib_petridish", "tests",
                          "benchmarks"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr


def _imports() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, at the top or inside functions."""
    import ast

    pkg = ROOT / "naslib_petridish"
    graph: dict[str, set[str]] = {}
    for path in pkg.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        mod = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        base = mod.split(".") if rel.name == "__init__" else mod.split(".")[:-1]
        out = graph.setdefault(mod, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    target = ".".join(base[:len(base) - node.level + 1]
                                      + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                names = [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for n in [*names, target if isinstance(node, ast.ImportFrom) else ""]:
                if n.startswith("naslib_petridish") and n != mod:
                    out.add(n)
    known = set(graph)
    # keep only names that are modules (``from .x import y`` of a function y -> module x)
    return {m: {n for n in deps if n in known and n != m} for m, deps in graph.items()}


def test_import_graph_has_no_circle_and_the_dish_never_imports_the_ranker():
    """Data flows one way: no module imports (directly or through others) a module that
    imports it, and no module outside ``ranker``, ``factory``, the NASLib glue, the command
    line, the evaluation and guided search (which take either predictor) imports the
    ranker.  Package ``__init__`` files only re-export, lazily."""
    graph = _imports()
    inits = {m for m in graph if (ROOT / m.replace(".", "/") / "__init__.py").exists()}
    g = {m: deps - inits for m, deps in graph.items() if m not in inits}

    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for n in g.get(todo.pop(), ()):
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen

    circles = sorted(m for m in g if m in reach(m))
    assert not circles, f"modules in an import circle: {circles}"
    above = ("naslib_petridish.ranker", "naslib_petridish.factory", "naslib_petridish.naslib",
             "naslib_petridish.cli", "naslib_petridish.evaluate", "naslib_petridish.guided",
             "naslib_petridish.compare")
    for m in g:
        if not m.startswith(above):
            bad = sorted(n for n in reach(m) if n.startswith("naslib_petridish.ranker"))
            assert not bad, f"{m} (dish code) imports the ranker: {bad}"


def test_no_module_of_the_package_is_over_500_lines_and_each_says_its_job():
    import ast

    for path in (ROOT / "naslib_petridish").rglob("*.py"):
        text = path.read_text()
        n = text.count("\n")
        assert n <= 500, f"{path.relative_to(ROOT)} has {n} lines (split it by job)"
        doc = ast.get_docstring(ast.parse(text))
        assert doc and doc.strip().splitlines()[0].strip(), \
            f"{path.relative_to(ROOT)} has no docstring saying its job"


#: the Synthetic Petri Dish's own modules (settings, dish, inner and outer loop, workers,
#: its predictor and calibration, the meta-gradient dish, the optimizer, its figures)
DISH_MODULES = {f"naslib_petridish.{m}" for m in (
    "config", "dish", "inner", "outer", "runner", "predictor", "calibration", "metadish",
    "optim", "plots")}


def test_the_space_core_is_at_the_bottom_and_the_ranker_is_a_peer_of_the_dish():
    """The search spaces import neither the dish nor the ranker (directly or through other
    modules); no ranker module imports a dish module but the registered curve sources
    (``ranker.sources``); every space in the registry has its module."""
    graph = _imports()

    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for n in graph.get(todo.pop(), ()):
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen

    spaces = [m for m in graph if m.startswith("naslib_petridish.spaces")]
    assert "naslib_petridish.spaces.nb201.cell" in spaces
    for m in spaces:
        bad = sorted(n for n in reach(m)
                     if n in DISH_MODULES or n.startswith("naslib_petridish.ranker"))
        assert not bad, f"{m} (space core) imports the dish or the ranker: {bad}"
    for m, deps in graph.items():
        if m.startswith("naslib_petridish.ranker") and m != "naslib_petridish.ranker.sources":
            bad = sorted(deps & DISH_MODULES)
            assert not bad, f"{m} imports dish modules {bad} (only ranker.sources may)"
    from naslib_petridish.spaces import SPACES
    for module, _ in SPACES.values():
        assert module in graph, module
