"""SampleGrid and make_callbacks (tfar/training/callbacks.py)."""

import glob
import os

import keras
import numpy as np
import pytest
from PIL import Image

from tfar.models.pixelcnn import PixelCNN
from tfar.training.callbacks import SampleGrid, make_callbacks, sample_conditions

SHAPE = (5, 5, 1)
CELL = 5 * 13  # auto scale for 5-pixel images: ceil(64 / 5) = 13


def tiny_model(num_classes=None):
    model = PixelCNN(image_shape=SHAPE, filters=4, num_residual_blocks=1, output_filters=4, kernel_size=3,
                     num_classes=num_classes)
    model.build()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


def data(n=8, labels=False):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=[n, *SHAPE]).astype(np.int32)
    return (x, rng.integers(0, 10, size=[n]).astype(np.int32)) if labels else (x, None)


def grid_size(rows, cols, pad=2):
    return rows * (CELL + pad) + pad, cols * (CELL + pad) + pad  # PIL size is (width, height)


def test_sample_conditions():
    assert sample_conditions(9, None) == (None, 3)
    labels, ncols = sample_conditions(16, 10)
    assert ncols == 2 and labels.tolist() == [c for c in range(10) for _ in range(2)]
    labels, ncols = sample_conditions(4, 10, label=3)
    assert labels.tolist() == [3, 3, 3, 3] and ncols == 2
    with pytest.raises(ValueError, match="unconditional"):
        sample_conditions(4, None, label=1)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        sample_conditions(4, 10, label=10)


def test_sample_grid_writes_a_png_per_epoch(tmp_path):
    model = tiny_model()
    x, _ = data()
    grid = SampleGrid(tmp_path, num_samples=4, seed=1)
    model.fit(x, epochs=2, batch_size=4, verbose=0, callbacks=[grid])
    files = sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "samples" / "*.png")))
    assert files == ["epoch_001.png", "epoch_002.png"]
    picture = Image.open(tmp_path / "samples" / "epoch_002.png")
    height, width = grid_size(2, 2)
    assert picture.size == (width, height)
    # the grid is the model's samples for that seed
    expected = model.sample(4, seed=1)
    from tfar.visualize import image_grid

    np.testing.assert_array_equal(np.asarray(picture), image_grid(np.asarray(expected), 256, ncols=2)[..., 0])
    assert glob.glob(str(tmp_path / "logs" / "samples" / "events.out.tfevents.*"))


def test_sample_grid_every_and_one_row_per_class(tmp_path):
    model = tiny_model(num_classes=10)
    x, labels = data(labels=True)
    model.fit(x, labels, epochs=2, batch_size=4, verbose=0,
              callbacks=[SampleGrid(tmp_path, num_samples=10, every=2, tensorboard=False)])
    assert sorted(os.listdir(tmp_path / "samples")) == ["epoch_002.png"]
    height, width = grid_size(10, 1)
    assert Image.open(tmp_path / "samples" / "epoch_002.png").size == (width, height)
    assert not (tmp_path / "logs").exists()


def test_sample_grid_validates():
    with pytest.raises(ValueError, match="num_samples"):
        SampleGrid("run", num_samples=0)
    with pytest.raises(ValueError, match="every"):
        SampleGrid("run", every=0)


def test_make_callbacks_set(tmp_path):
    cbs = make_callbacks(tmp_path, monitor="loss")
    kinds = [type(c).__name__ for c in cbs]
    assert kinds == ["ModelCheckpoint", "ModelCheckpoint", "TensorBoard", "SampleGrid", "CSVLogger", "BackupAndRestore"]
    backup = cbs[-1]
    assert backup.backup_dir == os.path.join(str(tmp_path), "backup") and backup.delete_checkpoint is False
    assert cbs[1].save_best_only and cbs[1].monitor == "loss"


def test_make_callbacks_with_measurements_and_averaging(tmp_path):
    cbs = make_callbacks(tmp_path, samples=False, tensorboard=False, batch_size=8, averaging=True)
    assert [type(c).__name__ for c in cbs] == [
        "_Half", "ModelCheckpoint", "ModelCheckpoint", "TrainingRecord", "CSVLogger", "_Half", "BackupAndRestore"]
    assert cbs[0].is_swap_in and not cbs[-2].is_swap_in


def test_training_fills_the_run_folder_and_best_survives_resume(tmp_path):
    model = tiny_model()
    x, _ = data()
    model.fit(x, epochs=2, batch_size=4, verbose=0, callbacks=make_callbacks(tmp_path, monitor="loss", num_samples=2))
    for name in ("checkpoints/last.weights.h5", "checkpoints/best.weights.h5", "history.csv",
                 "backup/training_metadata.json", "samples/epoch_002.png"):
        assert (tmp_path / name).is_file(), name
    rows = (tmp_path / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + 2 epochs
    losses = [float(r.split(",")[rows[0].split(",").index("loss")]) for r in rows[1:]]
    # a resumed run starts its best-weights tracking from the best loss so far
    again = make_callbacks(tmp_path, monitor="loss")
    assert again[1].best == pytest.approx(min(losses))
