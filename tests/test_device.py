"""The ``device`` option: motifs train on the CPU by default, on a GPU when asked,
with a clear error where the device does not exist.  The GPU equivalence test
runs only where CUDA is available (CI has none)."""
import numpy as np
import pytest
import torch

from naslib_petridish.cli import main
from naslib_petridish.config import ConfigError
from naslib_petridish.dish import Dish
from naslib_petridish.errors import DeviceNotAvailable
from naslib_petridish.inner import train_motif
from naslib_petridish.runner import MotifRunner

from tests.helpers import tiny

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


@pytest.fixture(scope="module")
def cells(table):
    return table.cells(table.sample(3, rng=5, metric="val"))


def test_device_must_be_a_torch_device():
    assert tiny().device == "cpu"
    with pytest.raises(ConfigError, match="device 'gpu0' is not a torch device"):
        tiny(device="gpu0")
    with pytest.raises(ConfigError, match="device must be a string"):
        tiny(device=0)


@no_cuda
def test_missing_gpu_is_a_clear_error(cells, table_path, tmp_path, capsys):
    cfg = tiny(device="cuda")
    dish = Dish.create(cfg)
    with pytest.raises(DeviceNotAvailable, match="sees no CUDA GPU.*set device=cpu"):
        train_motif(cells[0], dish.images, dish.labels, cfg, seed=0)
    with pytest.raises(DeviceNotAvailable, match="sees no CUDA GPU"):
        MotifRunner(2, device="cuda").__enter__()  # before any worker starts
    out = tmp_path / "run"
    assert main(["-q", "fit", "--nb101", table_path, "--preset", "quick", "--out", str(out),
                 "--set", "device=cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert "sees no CUDA GPU" in err and err.count("\n") == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("score", ["zhat", "tse"])
def test_gpu_trains_the_same_motif_as_the_cpu(cells, score):
    """Same seed -> same initial weights and batches on both devices; the losses,
    score and dish gradient agree up to float rounding of the GPU kernels."""
    cfg = tiny(inner_epochs=3, score=score, memory_format="contiguous")
    dish = Dish.create(cfg)
    for cell in cells:
        cpu = train_motif(cell, dish.images, dish.labels, cfg, seed=2, want_grad=True)
        gpu = train_motif(cell, dish.images, dish.labels, cfg.replace(device="cuda"), seed=2,
                          want_grad=True)
        np.testing.assert_allclose(gpu.losses, cpu.losses, rtol=1e-3)
        assert gpu.score == pytest.approx(cpu.score, rel=1e-3)
        cos = float((gpu.grad * cpu.grad).sum()
                    / (np.linalg.norm(gpu.grad) * np.linalg.norm(cpu.grad)))
        assert cos > 0.999
