"""A non-editable install carries the zoo entries, their weights and the embedded data."""

import os
import pathlib
import shutil
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent

CHECK = """
import tfar
assert tfar.__file__.startswith(SITE), tfar.__file__
assert tfar.zoo.list_models() == sorted(tfar.zoo.list_models()) and "gated_pixelcnn" in tfar.zoo.list_models()
model = tfar.zoo.load("pixelcnn")  # weights read from the installed package, sha256 checked
x, y = next(iter(tfar.data.load("fashion_mnist", split="test", batch_size=4, with_labels=True, source="embedded")))
print(float(model.bits_per_dim(x, y).numpy().mean()))
"""


def test_wheel_installs_with_zoo_and_embedded_data(tmp_path):
    wheels, site, source = tmp_path / "wheels", tmp_path / "site", tmp_path / "source"
    # build from a clean copy: a stale build/ folder in the checkout would hide packaging mistakes
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "runs", "*.egg-info", "__pycache__", "tensorflow_datasets"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "-w", str(wheels), str(source)], check=True, capture_output=True)
    wheel = next(wheels.glob("tfar-*.whl"))
    subprocess.run(pip + ["install", "--no-deps", "--target", str(site), str(wheel)], check=True, capture_output=True)
    env = dict(os.environ, PYTHONPATH=str(site), TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", f"SITE = {str(site)!r}\n" + CHECK], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    bits_per_dim = float(result.stdout.strip().splitlines()[-1])
    assert 0 < bits_per_dim < 8
