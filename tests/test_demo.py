"""``python -m tfar.demo`` in a short mode: the quick run, then the zoo's panels in one PNG."""

import json

import numpy as np
from PIL import Image

from tfar import demo, visualize, zoo


def test_short_demo_writes_the_quick_and_the_zoo_panels(tmp_path, capsys):
    out = tmp_path / "demo"
    assert demo.main(["--out", str(out), "--source", "embedded", "--epochs", "1", "--steps-per-epoch", "2",
                      "--zoo-per-class", "1", "--completions", "2"]) == 0
    printed = capsys.readouterr().out
    shown = json.loads((out / "demo.json").read_text())
    assert shown["path"] == str(out / "demo.png") and str(out / "demo.png") in printed
    card = zoo.info(demo.ZOO_ENTRY)["metrics"]["test_bits_per_dim"]
    quick = json.loads((out / "eval.json").read_text())["bits_per_dim"]
    assert shown["zoo_bits_per_dim"] == card and shown["quick_bits_per_dim"] == quick
    assert f"{card:.4f} zoo {demo.ZOO_ENTRY}" in printed and f"{quick:.4f} quick PixelCNN" in printed

    picture = np.asarray(Image.open(out / "demo.png"))
    (qt, ql, qh, qw), (zt, zl, zh, zw), (ct, cl, ch, cw) = shown["boxes"]
    # panel 1: the quick model's grid as `tfar sample` wrote it
    quick_grid = np.asarray(Image.open(out / "samples.png").convert("L"))
    np.testing.assert_array_equal(picture[qt:qt + qh, ql:ql + qw, 0], quick_grid)
    # panel 2: the pretrained zoo entry's samples, one per class, drawn again with the same seed
    model = zoo.load(demo.ZOO_ENTRY)
    labels = np.arange(model.num_classes, dtype=np.int32)
    expected = visualize.image_grid(np.asarray(model.sample(len(labels), condition=labels, seed=shown["seed"])),
                                    model.num_levels, ncols=1)
    np.testing.assert_array_equal(picture[zt:zt + zh, zl:zl + zw, 0], expected[..., 0])
    # panel 3: two (test image | completion) pairs, the completion keeping the top half exactly
    assert (ch, cw) == visualize.image_grid(np.zeros([4, 28, 28, 1], np.int32), 256, ncols=2).shape[:2]
    third = picture[ct:ct + ch, cl:cl + cw, 0]
    scale, pad = visualize.auto_scale(28), 2
    cell = 28 * scale
    for row in range(2):
        top = pad + row * (cell + pad)
        original = third[top:top + cell, pad:pad + cell]
        completion = third[top:top + cell, 2 * pad + cell:2 * pad + 2 * cell]
        np.testing.assert_array_equal(original[: cell // 2], completion[: cell // 2])
        assert not np.array_equal(original, completion)
    # the captions are drawn above the panels
    assert (picture[:qt] < 128).any()
