"""colab/wavenet_your_recordings.ipynb runs end to end in its small mode under a real Jupyter kernel."""

import json

from colab_notebooks import check_install_cell, outputs, run  # tests/colab_notebooks.py


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
