"""Zoo entries written from a run folder: every figure in a card comes from a file the run wrote.

    tfar zoo card RUN --name NAME        ->  zoo/NAME/config.json, MODEL_CARD.md,
                                             NAME.weights.h5, learning_curve.png (+ samples.png)

Sources, nothing typed by hand:

- ``run.json``: the model, its config, the data and the training command's settings;
- ``train_stats.json`` (:class:`tfar.training.record.TrainingRecord`): steps, examples,
  wall time, median images/s, the best validation epoch and every epoch's figures;
- ``eval.json`` (``tfar eval RUN``): the test figure, which must come from the test split;
- the best checkpoint (chosen on validation data), saved without optimizer state;
- for image entries, the figure on the 500 test images of the sample embedded in the
  package, computed here so a test can recompute it from the shipped weights.
"""

import hashlib
import json
import math
import os

from tfar.training import run as run_lib
from tfar.training.record import read_train_stats

PAPERS = {
    "PixelCNN": "van den Oord et al. 2016, Pixel Recurrent Neural Networks, sec. 3.5 (arXiv:1601.06759)",
    "GatedPixelCNN": "van den Oord et al. 2016, Conditional Image Generation with PixelCNN Decoders "
                     "(arXiv:1606.05328)",
    "PixelCNNPlusPlus": "Salimans et al. 2017, PixelCNN++ (arXiv:1701.05517)",
    "RowLSTM": "van den Oord et al. 2016, Pixel Recurrent Neural Networks, sec. 3.1 (arXiv:1601.06759)",
    "DiagonalBiLSTM": "van den Oord et al. 2016, Pixel Recurrent Neural Networks, sec. 3.2 (arXiv:1601.06759)",
    "WaveNet": "van den Oord et al. 2016, WaveNet: A Generative Model for Raw Audio (arXiv:1609.03499)",
    "WaveNetVocoder": "van den Oord et al. 2016, WaveNet (arXiv:1609.03499); as a vocoder conditioned on mel "
                      "spectrograms: Shen et al. 2018, Tacotron 2 (arXiv:1712.05884)",
}


def _read_json(path, what):
    if not os.path.isfile(path):
        raise ValueError(f"{path} is missing: {what}")
    with open(path) as f:
        return json.load(f)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def learning_curve(stats, path, metric_name):
    """PNG of the validation (and training) figure per epoch against wall-clock hours."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    epochs = stats["epochs"]
    hours = [e["wall_seconds"] / 3600 for e in epochs]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    key = "bits_per_dim"
    ax.plot(hours, [e.get(key, math.nan) for e in epochs], "o-", color="0.6", label="training (epoch mean)")
    ax.plot(hours, [e.get(f"val_{key}", math.nan) for e in epochs], "o-", color="C0", label="validation")
    if stats.get("best_epoch"):
        best = next(e for e in epochs if e["epoch"] == stats["best_epoch"])
        ax.plot([best["wall_seconds"] / 3600], [best[f"val_{key}"]], "*", color="C3", markersize=14,
                label=f"best (epoch {best['epoch']}, shipped)")
    ax.set_xlabel("wall-clock hours of training")
    ax.set_ylabel(metric_name)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _embedded_test_figure(model, dataset):
    """Bits/dim on the 500 test images of the embedded sample (None for other datasets)."""
    import tfar.data
    from tfar.evaluation import evaluate_bits_per_dim

    if not (tfar.data.dataset_info(dataset).get("embedded_splits")):
        return None
    data = tfar.data.load(dataset, split="test", source="embedded", batch_size=100,
                          with_labels=model.num_classes is not None, num_levels=model.num_levels)
    bits, count = evaluate_bits_per_dim(model, data, verbose=0)
    return {"bits_per_dim": round(bits, 4), "examples": count}


def _sample_grid(model, path, seed=0):
    import numpy as np

    from tfar import visualize
    from tfar.training.callbacks import sample_conditions

    condition, ncols = sample_conditions(10 * (model.num_classes or 1), model.num_classes)
    num = 10 * (model.num_classes or 1) if condition is None else len(condition)
    samples = np.asarray(model.sample(num, condition=condition, seed=seed))
    visualize.save_png(path, visualize.image_grid(samples, model.num_levels, ncols=ncols))
    return path


def _split_sizes(data):
    """Split sizes of a run's image dataset (runs recorded them since ``split_sizes`` exists)."""
    import tfar.data

    info = tfar.data.dataset_info(data["name"])
    return info["embedded_splits"] if data.get("source") == "embedded" else info["splits"]


def write_card(run_dir, name, zoo_dir="zoo", samples=True):
    """Write zoo entry ``name`` under ``zoo_dir`` from ``run_dir``; returns the entry's config record."""
    from tfar import zoo

    info = run_lib.read_run_info(run_dir)
    stats = read_train_stats(run_dir)
    if stats is None:
        raise ValueError(f"{run_dir} has no {run_lib.TRAIN_STATS}: train it with `tfar train` first")
    evaluation = _read_json(os.path.join(run_dir, run_lib.EVAL_FILE), f"run `tfar eval {run_dir}` first")
    if evaluation.get("split") != "test" or evaluation.get("weights") != "best":
        raise ValueError(f"{run_dir}/eval.json must score the best weights on the test split, got "
                         f"split={evaluation.get('split')!r}, weights={evaluation.get('weights')!r}")
    model, _ = run_lib.load_run_model(run_dir, "best")
    audio = zoo.is_audio(model)
    entry = os.path.join(zoo_dir, name)
    os.makedirs(entry, exist_ok=True)
    weights = f"{name}.weights.h5"
    model.save_weights(os.path.join(entry, weights))  # an uncompiled model: weights only

    best = stats["best"] or {}
    metrics = {
        "train_steps": stats["steps"], "train_examples": stats["examples"], "batch_size": stats["batch_size"],
        "params": int(model.count_params()), "train_wall_seconds": stats["wall_seconds"],
        "train_images_per_second_median": stats["images_per_second_median"], "epochs": stats["epochs_completed"],
        "best_epoch": stats["best_epoch"],
    }
    data = info["data"]
    if audio:
        metrics.update(
            test_nats_per_sample=round(evaluation["nats_per_sample"], 4),
            test_bits_per_sample=round(evaluation["bits_per_sample"], 4), test_samples=evaluation["num_samples"],
            test_files=evaluation["num_files"], uniform_baseline_nats=round(evaluation["uniform_baseline_nats"], 4),
            validation_nats_per_sample=round(best["val_loss"], 4) if "val_loss" in best else None,
        )
        dataset = (f"WAV files of {data['name']} at {data['sample_rate']} Hz, mu-law; files split by a stable hash "
                   f"of the file name: {data['split_files']} (train / validation / test)")
        splits = {"rule": "SHA-1 of the file's base name mapped to [0, 1): test below holdout_fraction, validation "
                          "below holdout_fraction + validation_fraction, else train",
                  "files": data["split_files"]}
    else:
        metrics.update(
            test_bits_per_dim=round(evaluation["bits_per_dim"], 4), test_examples=evaluation["num_examples"],
            validation_bits_per_dim=round(best["val_bits_per_dim"], 4) if "val_bits_per_dim" in best else None,
            embedded_test=_embedded_test_figure(model, data["name"]),
        )
        dataset = data["name"]
        sizes = data.get("split_sizes") or _split_sizes(data)
        splits = {
            "train": f"{sizes.get('train', '?')} images: the original training images but the validation tail",
            "validation": f"{sizes.get('validation', '?')} images: the last ones of the original training split "
                          f"(checkpoint selection; {data.get('val_examples') or data.get('val_limit') or sizes.get('validation')} "
                          "read each epoch)",
            "test": f"{sizes.get('test', '?')} images: the test split, read once by `tfar eval` for the reported "
                    "figure",
        }
    learning_curve(stats, os.path.join(entry, "learning_curve.png"),
                   "nats per sample" if audio else "bits per dimension")
    if samples and not audio:
        _sample_grid(model, os.path.join(entry, "samples.png"))
    record = {
        "name": name, "class": type(model).__name__, "paper": PAPERS.get(type(model).__name__, ""),
        "dataset": dataset, "splits": splits, "config": info["model_config"], "weights": weights,
        "weights_sha256": _sha256(os.path.join(entry, weights)), "metrics": metrics,
        "training": {k: info.get(k) for k in ("epochs", "steps_per_epoch", "lr", "lr_schedule", "ema", "seed")},
    }
    if info.get("lr_decay_start_step"):  # a constant-rate run annealed when it was resumed
        record["training"]["lr_decay_start_step"] = info["lr_decay_start_step"]
    if getattr(model, "features", None):  # a vocoder: its mel front end, as config.json's "features" block
        record["features"] = dict(model.features)
        record["config"] = {k: v for k, v in record["config"].items() if k != "features"}
    if audio:
        record["audio"] = {k: data[k] for k in ("sample_rate", "holdout_fraction", "validation_fraction",
                                                 "trim_threshold")}
    with open(os.path.join(entry, "config.json"), "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    with open(os.path.join(entry, "MODEL_CARD.md"), "w") as f:
        f.write(card_text(record, info, audio))
    return record


def _schedule_text(training):
    """How the learning rate moved: "constant schedule", "cosine schedule", or constant, then cosine."""
    start = training.get("lr_decay_start_step")
    if training.get("lr_schedule") == "cosine" and start:
        total = training["epochs"] * training["steps_per_epoch"]
        return (f"constant for the first {start:,} steps, then a cosine decay to 2% of it planned to end at step "
                f"{total:,}")
    return f"{training['lr_schedule']} schedule"


def card_text(record, info, audio):
    """MODEL_CARD.md for a zoo record (everything in it comes from the record and run.json)."""
    m, t = record["metrics"], record["training"]
    unit = "nats/sample" if audio else "bits/dim"
    if audio:
        figure = (f"| test (held-out files, every sample) | {m['test_nats_per_sample']} {unit} "
                  f"({m['test_bits_per_sample']} bits/sample) over {m['test_samples']:,} samples of "
                  f"{m['test_files']} files |\n| validation (best epoch) | {m['validation_nats_per_sample']} {unit} |\n"
                  f"| uniform baseline | {m['uniform_baseline_nats']} {unit} |")
    else:
        embedded = m.get("embedded_test") or {}
        figure = (f"| test ({m['test_examples']:,} images) | {m['test_bits_per_dim']} {unit} |\n"
                  f"| validation (best epoch) | {m['validation_bits_per_dim']} {unit} |")
        if embedded:
            figure += f"\n| embedded test sample ({embedded['examples']} images) | {embedded['bits_per_dim']} {unit} |"
    settings = " ".join(f"{k}={json.dumps(v)}" for k, v in record["config"].items())
    recipe = (f"Adam, learning rate {t['lr']} ({_schedule_text(t)}), "
              + (f"Polyak averaging (EMA momentum {t['ema']}) used for validation, checkpoints and the shipped "
                 "weights, " if t.get("ema") else "")
              + f"batch {m['batch_size']}, {m['epochs']} epochs of {t['steps_per_epoch']} steps"
              + (f" (of {t['epochs']} planned: its time budget ended the run)" if m["epochs"] < t["epochs"] else ""))
    lines = [
        f"# {record['name']}: {record['class']}", "",
        f"{record['paper']}.", "",
        "## Data", "",
        f"{record['dataset']}.", "",
        "Splits: " + "; ".join(f"{k}: {v}" for k, v in record["splits"].items()) + ".", "",
        "## Training", "",
        f"Config: `{settings}`.", "",
        f"{recipe}. Trained for {m['train_steps']:,} steps ({m['train_examples']:,} examples) in "
        f"{m['train_wall_seconds'] / 3600:.2f} h of wall-clock time at a median {m['train_images_per_second_median']} "
        f"examples/s; the shipped weights are those of epoch {m['best_epoch']}, the best on validation data.", "",
        "## Measured", "",
        "| what | figure |", "|---|---|", figure, "",
        "![learning curve](learning_curve.png)", "",
    ]
    if not audio:
        lines += ["Samples (seed 0, temperature 1" + (", one row per class" if record["config"].get("num_classes")
                                                     else "") + "):", "", "![samples](samples.png)", ""]
    lines += ["Every figure here was written by `tfar zoo card` from the run's files "
              "(`run.json`, `train_stats.json`, `eval.json`).", ""]
    return "\n".join(lines)


__all__ = ["card_text", "learning_curve", "write_card"]
