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
