"""A zoo entry exported by ``tfar export`` runs through ``saved_model_cli run``.

``saved_model_cli run`` restores a SavedModel with the session-based loader of TF
Serving's SavedModelBundle and runs a SignatureDef by its tensor names. The entry is
the trained ``pixelcnn`` (its real weights); its answers must equal the in-process
model: ``log_prob`` within float tolerance, ``sample`` value for value against the
same loop run in process without XLA (the served loop is plain TensorFlow).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import tfar
from tfar.cli.export import run as export_main
from tfar.sampling.loop import sample_fast

SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


def _saved_model_cli(export_dir, signature, exprs, outdir):
    done = subprocess.run(
        [SAVED_MODEL_CLI, "run", "--dir", export_dir, "--tag_set", "serve", "--signature_def", signature,
         "--input_exprs", exprs, "--outdir", str(outdir), "--overwrite"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return outdir


@pytest.fixture(scope="module")
def exported_entry(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo_pixelcnn")
    assert export_main(["pixelcnn", "--out", str(root), "--format", "saved_model"]) == 0
    return str(root / "1"), tfar.zoo.load("pixelcnn"), root


def test_saved_model_cli_samples_the_zoo_entry_like_the_model(exported_entry):
    export_dir, model, root = exported_entry
    out = _saved_model_cli(export_dir, "sample", "num_samples=2;seed=3;temperature=1.0;condition=[2,7]", root / "s")
    served = np.load(out / "samples.npy")
    expected = model.unflatten(sample_fast(model, 2, np.array([3, 0], np.int32), 1.0, condition=np.array([2, 7]),
                                           jit_compile=False))
    assert served.shape == (2, 28, 28, 1) and served.dtype == np.int32
    np.testing.assert_array_equal(served, expected)


def test_saved_model_cli_scores_real_images_like_the_model(exported_entry):
    export_dir, model, root = exported_entry
    images, labels = next(iter(tfar.data.load("fashion_mnist", split="test", batch_size=3, with_labels=True,
                                              source="embedded")))
    np.save(root / "x.npy", images.numpy().astype(np.int32))
    np.save(root / "c.npy", labels.numpy().astype(np.int32))
    done = subprocess.run(
        [SAVED_MODEL_CLI, "run", "--dir", export_dir, "--tag_set", "serve", "--signature_def", "log_prob",
         "--inputs", f"x={root / 'x.npy'};condition={root / 'c.npy'}", "--outdir", str(root / "lp"), "--overwrite"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    bits = np.load(root / "lp" / "bits_per_dim.npy")
    np.testing.assert_allclose(bits, model.bits_per_dim(images, condition=labels), atol=1e-4, rtol=0)
    assert np.all(bits < 4.0), "the trained entry scores real test images well below the untrained 8 bits/dim"
