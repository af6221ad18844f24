"""The shared argument checks: one rule for ints (Python or NumPy, never bool or float) everywhere."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tfar import arg_checks  # noqa: E402
from tfar.distributions import head_for  # noqa: E402
from tfar.distributions.discretized_logistic_mixture import DiscretizedLogisticMixture  # noqa: E402
from tfar.layers import CausalDilatedConv1D, DiagonalBiLSTMLayer, GatedBlock, MaskedConv2D, RowLSTMLayer  # noqa: E402
from tfar.layers import GatedResNet, ShiftedConv2D, ShiftedConv2DTranspose  # noqa: E402
from tfar.models import GatedPixelCNN, PixelCNN, PixelCNNPlusPlus  # noqa: E402
from tfar.models import pixelrnn  # noqa: E402


@pytest.mark.parametrize("value", [1, 7, np.int32(3), np.int64(5), np.uint8(2)])
def test_python_and_numpy_ints_are_accepted_and_returned_as_int(value):
    out = arg_checks.positive_int("n", value)
    assert out == value and type(out) is int


@pytest.mark.parametrize("value", [0, -2, True, False, 2.0, 2.5, "2", None, [2], np.float32(2)])
def test_everything_else_is_refused_with_name_value_and_expectation(value):
    with pytest.raises(ValueError) as info:
        arg_checks.positive_int("num_resnet", value)
    assert str(info.value) == f"num_resnet must be a positive int, got {value!r}"


def test_variants():
    assert arg_checks.optional_positive_int("n", None) is None
    with pytest.raises(ValueError, match=r"^n must be None or a positive int, got 0$"):
        arg_checks.optional_positive_int("n", 0)
    assert arg_checks.non_negative_int("limit", 0) == 0
    assert arg_checks.non_negative_int("limit", None, optional=True) is None
    with pytest.raises(ValueError, match=r"^limit must be None or a non-negative int, got -1$"):
        arg_checks.non_negative_int("limit", -1, optional=True)
    assert arg_checks.odd_positive_int("k", np.int64(3)) == 3
    with pytest.raises(ValueError, match=r"^k must be an odd positive int \(why\), got 4$"):
        arg_checks.odd_positive_int("k", 4, " (why)")
    assert arg_checks.positive_multiple("units", 6, 3, "3") == 6
    with pytest.raises(ValueError, match=r"^units=4 must be divisible by the number of channels 3$"):
        arg_checks.positive_multiple("units", 4, 3, "the number of channels 3")
    assert arg_checks.int_pair("kernel_size", 3) == (3, 3)
    assert arg_checks.int_pair("kernel_size", (np.int64(1), 3)) == (1, 3)
    for bad in [(1, 2, 3), (True, 3), (3.0, 3), "33", None]:
        with pytest.raises(ValueError, match="kernel_size must be an int or a pair of ints"):
            arg_checks.int_pair("kernel_size", bad)


@pytest.mark.parametrize("value", [0, 0.5, np.float32(0.25), np.float64(0.999)])
def test_rates_in_unit_interval(value):
    assert arg_checks.rate_in_unit_interval("dropout_p", value) == pytest.approx(float(value))


@pytest.mark.parametrize("value", [1.0, -0.1, float("nan"), True, False, "0.5", None])
def test_bad_rates(value):
    with pytest.raises(ValueError, match=r"^dropout_p must be a float in \[0, 1\), got "):
        arg_checks.rate_in_unit_interval("dropout_p", value)


# Every constructor follows the rule: NumPy ints accepted, bools and floats refused.
CONSTRUCTORS = {
    "CausalDilatedConv1D.filters": (lambda v: CausalDilatedConv1D(v, 2), "filters", 1),
    "MaskedConv2D.filters": (lambda v: MaskedConv2D(v, 3), "filters", 1),
    "MaskedConv2D.color_channels": (lambda v: MaskedConv2D(3, 3, color_channels=v), "color_channels", 1),
    "GatedBlock.filters": (lambda v: GatedBlock(v), "filters", 1),
    "GatedBlock.condition_dim": (lambda v: GatedBlock(3, condition_dim=v), "condition_dim", 1),
    "RowLSTMLayer.units": (lambda v: RowLSTMLayer(v), "units", 1),
    "RowLSTMLayer.kernel_size": (lambda v: RowLSTMLayer(3, kernel_size=v), "kernel_size", 1),
    "DiagonalBiLSTMLayer.units": (lambda v: DiagonalBiLSTMLayer(v), "units", 1),
    "ShiftedConv2D.filters": (lambda v: ShiftedConv2D(v), "filters", 1),
    "ShiftedConv2D.strides": (lambda v: ShiftedConv2D(4, strides=v), "strides", 1),
    "ShiftedConv2DTranspose.filters": (lambda v: ShiftedConv2DTranspose(v), "filters", 1),
    "GatedResNet.num_classes": (lambda v: GatedResNet(4, num_classes=v), "num_classes", 1),
    "DLM.num_logistic_mix": (lambda v: DiscretizedLogisticMixture(num_logistic_mix=v), "num_logistic_mix", 1),
    "DLM.num_channels": (lambda v: DiscretizedLogisticMixture(num_channels=v), "num_channels", 1),
    "DLM.num_levels": (lambda v: DiscretizedLogisticMixture(num_levels=v), "num_levels", 2),
    "head_for.num_levels": (lambda v: head_for(v), "num_levels", 2),
    "PixelCNN.filters": (
        lambda v: PixelCNN((4, 4, 1), filters=v, num_residual_blocks=1, output_filters=2), "filters", 2
    ),
    "PixelCNN.num_residual_blocks": (
        lambda v: PixelCNN((4, 4, 1), filters=4, num_residual_blocks=v, output_filters=2), "num_residual_blocks", 1
    ),
    "GatedPixelCNN.num_layers": (
        lambda v: GatedPixelCNN((4, 4, 1), num_layers=v, filters=2, output_filters=2), "num_layers", 1
    ),
    "PixelRNN.units": (lambda v: pixelrnn.RowLSTM((4, 4, 1), units=v, num_layers=1, output_filters=2), "units", 1),
    "PixelCNNPlusPlus.num_resnet": (
        lambda v: PixelCNNPlusPlus((4, 4, 1), num_resnet=v, num_hierarchies=1, num_filters=4, num_logistic_mix=1),
        "num_resnet", 1,
    ),
}


@pytest.mark.parametrize("make, name, good", list(CONSTRUCTORS.values()), ids=list(CONSTRUCTORS))
def test_constructors_accept_numpy_ints_and_refuse_bools_and_floats(make, name, good):
    make(np.int64(good))
    for bad in (True, float(good)):
        with pytest.raises(ValueError, match=f"{name}.*{bad!r}"):
            make(bad)
