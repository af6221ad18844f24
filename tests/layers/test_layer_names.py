"""The PixelRNN layers are RowLSTMLayer / DiagonalBiLSTMLayer; their first names, which were also
the names of the models in tfar.models, still resolve for one release with a DeprecationWarning."""

import importlib

import keras
import pytest

import tfar.layers
import tfar.models
from tfar.layers.diagonal_bilstm import DiagonalBiLSTMLayer
from tfar.layers.row_lstm import RowLSTMLayer

RENAMED = [("RowLSTM", RowLSTMLayer), ("DiagonalBiLSTM", DiagonalBiLSTMLayer)]


@pytest.mark.parametrize("old, new", RENAMED)
def test_old_layer_name_warns_and_returns_the_layer(old, new):
    with pytest.warns(DeprecationWarning, match=rf"tfar\.layers\.{old} is deprecated; use tfar\.layers\.{new.__name__}"):
        assert getattr(tfar.layers, old) is new
    with pytest.warns(DeprecationWarning):
        namespace = {}
        exec(f"from tfar.layers import {old} as alias", namespace)
    assert namespace["alias"] is new


@pytest.mark.parametrize("old, new", RENAMED)
def test_one_name_per_class(old, new):
    assert getattr(tfar.models, old) is not new  # the model keeps the name
    assert issubclass(getattr(tfar.models, old), keras.Model) and issubclass(new, keras.layers.Layer)
    assert new.__name__ == f"{old}Layer" and new.__name__ in tfar.layers.__all__ and old not in tfar.layers.__all__
    assert keras.saving.get_registered_object(f"tfar>{new.__name__}") is new
    assert keras.saving.get_registered_object(f"tfar>{old}") is getattr(tfar.models, old)


def test_unknown_name_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'RowLSTMCell'"):
        tfar.layers.RowLSTMCell  # noqa: B018
    assert importlib.import_module("tfar.layers") is tfar.layers
