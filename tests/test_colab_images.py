"""colab/fine_tune_your_images.ipynb runs end to end in its small mode under a real Jupyter kernel."""

import json

from colab_notebooks import check_install_cell, outputs, run, text_of  # tests/colab_notebooks.py


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
