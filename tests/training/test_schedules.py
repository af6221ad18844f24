"""ConstantThenCosine: the learning rate a resumed run is annealed with."""

import keras
import numpy as np
import pytest

from tfar.training.schedules import ConstantThenCosine


def test_from_step_zero_it_is_keras_cosine_decay():
    ours = ConstantThenCosine(1e-3, decay_start=0, decay_steps=100, alpha=0.02)
    keras_cosine = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=100, alpha=0.02)
    for step in (0, 1, 37, 50, 99, 100, 250):
        np.testing.assert_allclose(float(ours(step)), float(keras_cosine(step)), rtol=1e-6)


def test_constant_until_the_start_then_the_same_decay_shifted():
    start, length = 40, 60
    ours = ConstantThenCosine(2e-3, decay_start=start, decay_steps=length, alpha=0.1)
    shifted = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=length, alpha=0.1)
    for step in (0, 1, 39, 40):
        assert float(ours(step)) == pytest.approx(2e-3)
    for step in (41, 55, 70, 99, 100, 500):
        np.testing.assert_allclose(float(ours(step)), float(shifted(step - start)), rtol=1e-6)
    assert float(ours(start + length)) == pytest.approx(2e-4)  # ends at alpha x lr0, and stays there
    assert float(ours(10 * (start + length))) == pytest.approx(2e-4)
    halfway = start + length // 2
    assert float(ours(halfway)) == pytest.approx(2e-3 * (0.1 + 0.9 * 0.5))


def test_it_round_trips_through_its_config_and_an_optimizer():
    schedule = ConstantThenCosine(1e-3, decay_start=7, decay_steps=11, alpha=0.05)
    again = ConstantThenCosine.from_config(schedule.get_config())
    assert again.get_config() == schedule.get_config()
    optimizer = keras.optimizers.Adam(learning_rate=schedule)  # as a saved .keras model's optimizer is rebuilt
    rebuilt = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(optimizer))
    assert isinstance(rebuilt._learning_rate, ConstantThenCosine)
    assert rebuilt._learning_rate.get_config() == schedule.get_config()


@pytest.mark.parametrize("kwargs, named", [
    ({"learning_rate": 0.0}, "learning_rate"), ({"learning_rate": float("nan")}, "learning_rate"),
    ({"decay_start": -1}, "decay_start"), ({"decay_start": 2.5}, "decay_start"),
    ({"decay_steps": 0}, "decay_steps"), ({"alpha": 1.5}, "alpha"),
])
def test_bad_arguments_are_named(kwargs, named):
    args = {"learning_rate": 1e-3, "decay_start": 0, "decay_steps": 10, "alpha": 0.02, **kwargs}
    with pytest.raises(ValueError, match=named):
        ConstantThenCosine(**args)


def test_the_model_card_says_when_the_decay_began():
    from tfar.training.model_card import _schedule_text

    assert _schedule_text({"lr_schedule": "constant"}) == "constant schedule"
    assert _schedule_text({"lr_schedule": "cosine", "epochs": 10, "steps_per_epoch": 5}) == "cosine schedule"
    annealed = _schedule_text({"lr_schedule": "cosine", "lr_decay_start_step": 13421, "epochs": 84,
                               "steps_per_epoch": 200})
    assert "constant for the first 13,421 steps" in annealed and "end at step 16,800" in annealed
