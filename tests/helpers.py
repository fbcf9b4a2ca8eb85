"""Shared tiny settings of the dish tests (motif C, 40 images, a few epochs)."""
from naslib_petridish.config import PetriDishConfig

TINY = dict(motif="C", dish_size=40, inner_epochs=2, outer_epochs=3, outer_batch=3,
            train_size=9, calibration_size=3, workers=1, seed=3)


def tiny(**kw) -> PetriDishConfig:
    return PetriDishConfig.from_dict({**TINY, **kw})
