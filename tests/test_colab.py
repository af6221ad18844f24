"""The Colab notebooks run end to end in their small mode under a real Jupyter kernel.

nbclient starts an ipykernel (this interpreter) in the notebook's own folder, as Jupyter
and Colab do, and runs every cell, ``!``/``%`` lines included; a failing cell or
assertion fails the test with the cell's traceback.
"""

import json
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

REPO = pathlib.Path(__file__).resolve().parent.parent
COLAB = REPO / "colab"
NOTEBOOKS = ("fine_tune_your_images.ipynb", "wavenet_your_recordings.ipynb")
CELL_TIMEOUT_S = 1800  # a generous bound per cell on a shared, busy CPU


def read(name):
    return nbformat.read(COLAB / name, as_version=4)


def run(name, workdir, monkeypatch):
    """The executed notebook (small mode, outputs written under ``workdir``)."""
    monkeypatch.setenv("TFAR_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("TFAR_NOTEBOOK_WORKDIR", str(workdir))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    notebook = read(name)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(COLAB)}})
    client.execute()
    return notebook


def outputs(notebook):
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def text_of(notebook):
    return "".join(o.get("text", "") for o in outputs(notebook) if o.output_type == "stream")


def test_the_notebooks_are_the_ones_the_tests_run():
    assert sorted(p.name for p in COLAB.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_stored_without_outputs_and_install_tfar_first(name):
    notebook = read(name)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code), f"{name}: clear the outputs"
    install = code[0].source
    assert "pip_install(" in install and "find_checkout(" in install and "TFAR_SOURCE" in install
    assert notebook.metadata.kernelspec.name == "python3"


def check_install_cell(notebook):
    install = notebook.cells[[c.cell_type for c in notebook.cells].index("code")]
    printed = "".join(o.get("text", "") for o in install.outputs)
    assert f"tfar: the local checkout {REPO}" in printed, printed


def test_image_notebook_fine_tunes_exports_and_answers_serving_requests(tmp_path, monkeypatch):
    notebook = run("fine_tune_your_images.ipynb", tmp_path, monkeypatch)
    check_install_cell(notebook)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["fine_tuned_bits_per_dim"] < results["pretrained_bits_per_dim"]
    assert results["fine_tuned_bits_per_dim"] < results["from_scratch_bits_per_dim"]
    assert results["train_images"] > 0 and results["validation_images"] > 0
    images = [o for o in outputs(notebook) if o.output_type == "display_data" and "image/png" in o.data]
    assert len(images) == 2  # samples and completions, before and after
    for picture in ("samples.png", "completions.png"):
        assert (tmp_path / picture).stat().st_size > 0
    serving = tmp_path / "serving" / "gated_pixelcnn"
    assert (serving / "1" / "saved_model.pb").is_file()
    assert {p.name for p in (serving / "onnx").glob("*.onnx")} == {"log_prob.onnx", "step.onnx", "initial_state.onnx"}
    printed = text_of(notebook)
    assert 'POST /v1/models/gated_pixelcnn:predict {"signature_name": "sample", "inputs": {"num_samples": 4' in printed
    assert "ONNX Runtime bits/dim" in printed


def test_audio_notebook_fine_tunes_on_held_out_recordings_and_plays_a_continuation(tmp_path, monkeypatch):
    notebook = run("wavenet_your_recordings.ipynb", tmp_path, monkeypatch)
    check_install_cell(notebook)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["fine_tuned_nats_per_sample"] < results["pretrained_nats_per_sample"]
    assert results["fine_tuned_nats_per_sample"] < results["from_scratch_nats_per_sample"]
    # the recordings came from the zoo model's held-out files, never from its training files
    from tfar import zoo
    from tfar.data import audio

    holdout = zoo.info("wavenet")["audio"]["holdout_fraction"]
    copied = list((tmp_path / "my_recordings").rglob("*.wav"))
    assert copied and all(audio.file_split(p, holdout) == "test" for p in copied)
    players = [o for o in outputs(notebook) if o.output_type == "display_data" and "<audio" in o.data.get("text/html", "")]
    assert len(players) == 2  # the prompt, and the prompt with its continuation
    assert (tmp_path / "continuation.wav").stat().st_size > 44

