"""Every image model builds and runs with its default widths, grey and RGB (CIFAR-10's 32x32x3)."""

import numpy as np
import pytest

from tfar import models

IMAGE_MODELS = [models.PixelCNN, models.GatedPixelCNN, models.PixelCNNPlusPlus, models.RowLSTM, models.DiagonalBiLSTM]


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)], ids=["grey", "rgb"])
@pytest.mark.parametrize("cls", IMAGE_MODELS, ids=lambda c: c.__name__)
def test_defaults_construct_and_run(cls, shape):
    model = cls(image_shape=shape)
    x = np.random.default_rng(0).integers(0, 256, size=(1, *shape)).astype(np.int32)
    log_prob = model.log_prob(x).numpy()
    assert log_prob.shape == (1,) and np.isfinite(log_prob).all()
    assert model.get_config()["image_shape"] == list(shape)
