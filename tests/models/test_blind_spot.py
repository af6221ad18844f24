"""Blind spot: the gated two-stack model sees every earlier pixel; masked PixelCNN does not.

With 3x3 mask-B convolutions a pixel's receptive field grows one column to the right
per row upwards, so plain PixelCNN misses a wedge up and to the right of each pixel
(van den Oord et al. 2016, arXiv:1606.05328, Figure 1). The vertical stack of Gated
PixelCNN covers full rows above instead.
"""

import keras
import numpy as np

from tfar.models.gated_pixelcnn import GatedPixelCNN
from tfar.models.pixelcnn import PixelCNN
from tfar.testing import dependency_matrix, earlier_pixels_seen

SHAPE = (7, 7, 1)
ROW, COL = 6, 0  # first pixel of the last row: every pixel of rows 0..5 comes earlier


def earlier_than(row, col, shape=SHAPE):
    h, w, _ = shape
    return (np.arange(h * w) < row * w + col).reshape(h, w)


def test_gated_pixelcnn_has_no_blind_spot():
    keras.utils.set_random_seed(0)
    # receptive field: 3 + 4 * 1 = 7 columns right and 1 + 3 + 4 * 1 = 8 rows up of the pixel
    model = GatedPixelCNN(image_shape=SHAPE, num_levels=4, num_layers=5, filters=16, kernel_size=3,
                          input_kernel_size=7, output_filters=16)
    seen = earlier_pixels_seen(dependency_matrix(model), SHAPE, ROW, COL)
    earlier = earlier_than(ROW, COL)
    missing = np.argwhere(earlier & ~seen).tolist()
    assert not missing, f"pixels {missing} do not influence pixel {(ROW, COL)}"
    assert not (seen & ~earlier).any()


def test_masked_pixelcnn_has_a_blind_spot():
    keras.utils.set_random_seed(0)
    # 7x7 mask A + 6 residual blocks of 3x3: the bounding box of the kernels spans 9 rows/columns
    model = PixelCNN(image_shape=SHAPE, num_levels=4, filters=16, num_residual_blocks=6, output_filters=16,
                     kernel_size=7)
    seen = earlier_pixels_seen(dependency_matrix(model), SHAPE, ROW, COL)
    earlier = earlier_than(ROW, COL)
    missing = earlier & ~seen
    assert missing.any()
    # the blind spot is the wedge to the upper right: rows r < 6 miss columns > 3 + (5 - r)
    rows, cols = np.mgrid[:7, :7]
    wedge = earlier & (cols > 3 + (ROW - 1 - rows))
    np.testing.assert_array_equal(missing, wedge)
    assert seen[0, 6] and seen[5, 3]  # far corners outside the wedge are seen: not a size limit
