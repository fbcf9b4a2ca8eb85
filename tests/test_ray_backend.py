"""The Ray backend on a local Ray instance (skipped where Ray is not installed)."""
import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray", reason="Ray not installed (pip install 'naslib-petridish[ray]')")

from naslib_petridish.config import PetriDishConfig  # noqa: E402
from naslib_petridish.outer import fit_dish  # noqa: E402
from naslib_petridish.predictor import SyntheticPetriDishPredictor  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_backend_gives_the_local_result(local_ray, table):
    rows = table.sample(9, rng=8, metric="val")
    cells, acc = table.cells(rows), table.metric(rows, "val")
    base = dict(motif="C", dish_size=40, inner_epochs=2, outer_epochs=2, outer_batch=3,
                calibration_size=3, workers=1)
    local = fit_dish(PetriDishConfig(**base), cells[:6], acc[:6], progress=False)
    remote = fit_dish(PetriDishConfig(**base, backend="ray"), cells[:6], acc[:6], progress=False)
    assert torch.equal(local.images, remote.images)
    p_local = SyntheticPetriDishPredictor(config=base)
    p_ray = SyntheticPetriDishPredictor(config={**base, "backend": "ray"})
    p_local.fit(cells[:6], acc[:6])
    p_ray.fit(cells[:6], acc[:6])
    np.testing.assert_array_equal(p_local.query(cells[6:]), p_ray.query(cells[6:]))
    p_local.close()
    p_ray.close()
