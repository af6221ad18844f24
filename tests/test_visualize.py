"""Image grids and PNG writing (tfar/visualize.py)."""

import numpy as np
import pytest
from PIL import Image

from tfar.visualize import auto_scale, image_grid, save_grid, save_png, to_uint8


def test_levels_map_to_full_intensity_range():
    assert to_uint8(np.array([0, 255]), 256).tolist() == [0, 255]
    assert to_uint8(np.array([0, 1]), 2).tolist() == [0, 255]
    assert to_uint8(np.array([0, 1, 2, 3]), 4).tolist() == [0, 85, 170, 255]


def test_grid_shape_layout_and_padding():
    images = np.arange(5)[:, None, None, None] * np.ones([5, 3, 4, 1], np.int64)  # image i is all i
    grid = image_grid(images, num_levels=5, ncols=None, pad=1, scale=2, pad_value=7)
    # ceil(sqrt(5)) = 3 columns, 2 rows; cells 6x8 plus 1 px padding
    assert grid.shape == (2 * (6 + 1) + 1, 3 * (8 + 1) + 1, 1)
    assert grid.dtype == np.uint8
    expected = to_uint8(np.arange(5), 5)
    for i in range(5):
        row, col = divmod(i, 3)
        top, left = 1 + row * 7, 1 + col * 9
        assert np.all(grid[top:top + 6, left:left + 8] == expected[i])
    # padding rows/columns and the unused last cell keep pad_value
    assert np.all(grid[0] == 7) and np.all(grid[:, 0] == 7)
    assert np.all(grid[8:14, 19:27] == 7)


def test_nearest_neighbour_upscaling_keeps_pixels():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=[2, 5, 5, 3])
    grid = image_grid(images, 256, ncols=2, pad=0, scale=3)
    assert grid.shape == (15, 30, 3)
    np.testing.assert_array_equal(grid[::3, :15:3], images[0].astype(np.uint8))
    np.testing.assert_array_equal(grid[1::3, 15 + 2::3], images[1].astype(np.uint8))


def test_auto_scale_makes_small_images_viewable():
    assert auto_scale(28) == 3
    assert auto_scale(7) == 10
    assert auto_scale(64) == 1
    grid = image_grid(np.zeros([16, 28, 28], np.int32), 256, pad=2)  # [N, H, W] accepted as grey
    assert grid.shape == (4 * (84 + 2) + 2, 4 * (84 + 2) + 2, 1)


@pytest.mark.parametrize(
    "images, message",
    [
        (np.full([1, 2, 2, 1], 256), "expected levels in"),
        (np.full([1, 2, 2, 1], -1), "expected levels in"),
        (np.zeros([1, 2, 2, 1], np.float32), "integer levels"),
        (np.zeros([1, 2, 2, 2], np.int32), "1 or 3"),
        (np.zeros([0, 2, 2, 1], np.int32), "N>=1"),
    ],
)
def test_bad_images_raise(images, message):
    with pytest.raises(ValueError, match=message):
        image_grid(images, 256)


def test_bad_arguments_raise():
    images = np.zeros([2, 2, 2, 1], np.int32)
    with pytest.raises(ValueError, match="ncols"):
        image_grid(images, 256, ncols=0)
    with pytest.raises(ValueError, match="scale"):
        image_grid(images, 256, scale=0)
    with pytest.raises(ValueError, match="num_levels"):
        image_grid(images, 1)


def test_save_png_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, size=[6, 5, 1]).astype(np.uint8)
    rgb = rng.integers(0, 256, size=[6, 5, 3]).astype(np.uint8)
    path = save_png(tmp_path / "sub" / "grey.png", grey)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), grey[..., 0])
    np.testing.assert_array_equal(np.asarray(Image.open(save_png(tmp_path / "rgb.png", rgb))), rgb)
    with pytest.raises(ValueError, match="uint8"):
        save_png(tmp_path / "bad.png", grey.astype(np.int32))


def test_save_grid_writes_the_grid(tmp_path):
    images = np.random.default_rng(2).integers(0, 2, size=[3, 4, 4, 1])
    path = save_grid(tmp_path / "g.png", images, 2, ncols=3, pad=1, scale=1)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), image_grid(images, 2, ncols=3, pad=1, scale=1)[..., 0])


def test_side_by_side_keeps_each_panel_and_checks_its_arguments():
    from tfar.visualize import side_by_side

    grey = np.arange(12, dtype=np.uint8).reshape(3, 4, 1)
    colour = np.full([5, 2, 3], 200, np.uint8)
    picture, boxes = side_by_side([grey, colour], ["a", "b\nc"])
    (top0, left0), (top1, left1) = boxes
    np.testing.assert_array_equal(picture[top0:top0 + 3, left0:left0 + 4], np.repeat(grey, 3, axis=-1))
    np.testing.assert_array_equal(picture[top1:top1 + 5, left1:left1 + 2], colour)
    assert left1 >= left0 + 4 and picture.dtype == np.uint8 and picture.shape[-1] == 3
    with pytest.raises(ValueError, match="one caption per panel"):
        side_by_side([grey], ["a", "b"])
    with pytest.raises(ValueError, match="panel 0 must be uint8"):
        side_by_side([grey.astype(np.float32)], ["a"])
