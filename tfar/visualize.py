"""Image grids and PNG files for samples (NumPy + Pillow only).

A level ``v`` in ``[0, num_levels)`` is shown as the 8-bit intensity
``round(255 * v / (num_levels - 1))``; small images are enlarged by an integer
factor (nearest neighbour) so a grid of 28x28 images is easy to look at.
"""

import math
import os

import numpy as np

from tfar.arg_checks import checked_int, non_negative_int, positive_int

MIN_DISPLAY_SIZE = 64  # auto scale: each image at least this many pixels high


def to_uint8(images, num_levels):
    """Integer levels [..] in [0, num_levels) -> uint8 intensities in [0, 255]."""
    checked_int("num_levels", num_levels, "an int >= 2", lambda v: v >= 2)
    images = np.asarray(images)
    if not np.issubdtype(images.dtype, np.integer):
        raise ValueError(f"images must hold integer levels in [0, {num_levels}), got dtype {images.dtype}")
    if images.size and (images.min() < 0 or images.max() >= num_levels):
        raise ValueError(
            f"images hold values in [{images.min()}, {images.max()}]; expected levels in [0, {num_levels})"
        )
    return np.round(images.astype(np.float64) * (255.0 / (num_levels - 1))).astype(np.uint8)


def auto_scale(height):
    """Smallest integer factor that makes an image ``height`` pixels high at least MIN_DISPLAY_SIZE."""
    return max(1, math.ceil(MIN_DISPLAY_SIZE / height))


def image_grid(images, num_levels, ncols=None, pad=2, scale=None, pad_value=255):
    """Tile images into one uint8 picture (NumPy; neither TensorFlow nor PIL has a grid tiler).

    Args:
      images: integer levels [N, H, W, C] with C in {1, 3} (or [N, H, W] for grey).
      num_levels: number of levels of the images (256, 2, ...).
      ncols: images per row; default ceil(sqrt(N)). Rows are filled left to right.
      pad: pixels of ``pad_value`` between images and around the border.
      scale: integer enlargement per image; default :func:`auto_scale` of H.
      pad_value: intensity 0..255 of the padding.

    Returns:
      uint8 array [rows * (H * scale + pad) + pad, ncols * (W * scale + pad) + pad, C].
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] < 1:
        raise ValueError(f"images must have shape [N>=1, H, W, 1 or 3], got {images.shape}")
    n, height, width, channels = images.shape
    ncols = math.ceil(math.sqrt(n)) if ncols is None else ncols
    positive_int("ncols", ncols)
    scale = auto_scale(height) if scale is None else scale
    positive_int("scale", scale)
    non_negative_int("pad", pad)
    if not 0 <= pad_value <= 255:
        raise ValueError(f"pad_value must be in [0, 255], got {pad_value!r}")

    pixels = to_uint8(images, num_levels)
    pixels = pixels.repeat(scale, axis=1).repeat(scale, axis=2)
    cell_h, cell_w = height * scale, width * scale
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    grid = np.full(
        (nrows * (cell_h + pad) + pad, ncols * (cell_w + pad) + pad, channels), pad_value, dtype=np.uint8
    )
    for i in range(n):
        row, col = divmod(i, ncols)
        top, left = pad + row * (cell_h + pad), pad + col * (cell_w + pad)
        grid[top:top + cell_h, left:left + cell_w] = pixels[i]
    return grid


def save_png(path, picture):
    """Write a uint8 picture [H, W, 1 or 3] (or [H, W]) as PNG; creates parent folders. Returns path."""
    from PIL import Image

    picture = np.asarray(picture)
    if picture.dtype != np.uint8:
        raise ValueError(f"picture must be uint8 (see image_grid), got dtype {picture.dtype}")
    if picture.ndim == 3 and picture.shape[-1] == 1:
        picture = picture[..., 0]
    if picture.ndim not in (2, 3) or (picture.ndim == 3 and picture.shape[-1] != 3):
        raise ValueError(f"picture must have shape [H, W], [H, W, 1] or [H, W, 3], got {picture.shape}")
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    Image.fromarray(picture).save(path, format="PNG")
    return path


def side_by_side(panels, captions, gap=12, caption_height=30):
    """Lay uint8 pictures [H_i, W_i, C] left to right under captions of up to two lines (Pillow's default font).

    Returns (picture [H, W, 3] uint8, boxes): ``boxes[i] = (top, left)`` of panel i in the
    picture, which holds it unchanged (grey panels as three equal channels).
    """
    from PIL import Image, ImageDraw

    if len(panels) != len(captions) or not panels:
        raise ValueError(f"need one caption per panel, got {len(panels)} panels and {len(captions)} captions")
    rgb = []
    for i, panel in enumerate(panels):
        panel = np.asarray(panel)
        if panel.dtype != np.uint8 or panel.ndim != 3 or panel.shape[-1] not in (1, 3):
            raise ValueError(f"panel {i} must be uint8 [H, W, 1 or 3], got {panel.dtype} {panel.shape}")
        rgb.append(np.repeat(panel, 3, axis=-1) if panel.shape[-1] == 1 else panel)
    height = caption_height + max(p.shape[0] for p in rgb) + gap
    width = sum(p.shape[1] for p in rgb) + gap * (len(rgb) + 1)
    picture = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(picture)
    boxes, left = [], gap
    for panel, caption in zip(rgb, captions):
        draw.text((left, 3), caption, fill=(0, 0, 0))
        picture.paste(Image.fromarray(panel), (left, caption_height))
        boxes.append((caption_height, left))
        left += panel.shape[1] + gap
    return np.asarray(picture), boxes


def save_grid(path, images, num_levels, **grid_kwargs):
    """:func:`image_grid` then :func:`save_png`; returns path."""
    return save_png(path, image_grid(images, num_levels, **grid_kwargs))


__all__ = ["auto_scale", "image_grid", "save_grid", "save_png", "side_by_side", "to_uint8"]
