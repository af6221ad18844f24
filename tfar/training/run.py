"""Run folders: everything one training run writes, and how to rebuild its model.

    RUN/run.json                   zoo name, model config, data arguments, epochs, times
    RUN/checkpoints/last.weights.h5  weights after the latest epoch
    RUN/checkpoints/best.weights.h5  weights of the epoch with the lowest monitored loss
    RUN/backup/                    training state for resuming (keras BackupAndRestore)
    RUN/logs/                      TensorBoard event files
    RUN/samples/epoch_NNN.png      sample grids written during training
    RUN/history.csv                per-epoch metrics, wall time, steps and examples seen
    RUN/train_stats.json           what the training measured (see :class:`tfar.training.TrainingRecord`)
    RUN/eval.json                  test bits/dim written by ``tfar eval``

``load_model`` rebuilds the model of a run folder, or of a zoo entry name.
"""

import datetime
import json
import os

RUN_FILE = "run.json"
CHECKPOINTS = "checkpoints"
BACKUP = "backup"
LOGS = "logs"
SAMPLES = "samples"
HISTORY = "history.csv"
EVAL_FILE = "eval.json"
TRAIN_STATS = "train_stats.json"
WEIGHTS = {"last": "last.weights.h5", "best": "best.weights.h5"}


def now():
    """UTC time as an ISO 8601 string (seconds)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def weights_path(run_dir, which="best"):
    """Path of the ``"best"`` or ``"last"`` weights file of a run."""
    if which not in WEIGHTS:
        raise ValueError(f"which must be one of {sorted(WEIGHTS)}, got {which!r}")
    return os.path.join(run_dir, CHECKPOINTS, WEIGHTS[which])


def model_config(zoo_name, model):
    """The constructor arguments of ``model`` that its zoo entry knows (JSON-ready)."""
    from tfar import zoo

    keys = zoo.info(zoo_name)["config"].keys()
    config = model.get_config()
    return {k: _jsonable(config[k]) for k in keys if k in config}


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    return value


def write_run_info(run_dir, info):
    """Write ``info`` to RUN/run.json (creates the folder); returns the path."""
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, RUN_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(info, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return path


def read_run_info(run_dir):
    """The dict in RUN/run.json, or ValueError when ``run_dir`` is not a run folder."""
    path = os.path.join(run_dir, RUN_FILE)
    if not os.path.isfile(path):
        raise ValueError(f"{run_dir!r} is not a tfar run folder: {path} does not exist (train with `tfar train` first)")
    with open(path) as f:
        return json.load(f)


def build_model(info):
    """Build (untrained) the model a run describes: ``tfar.zoo.load(name, pretrained=False, **config)``."""
    from tfar import zoo

    return zoo.load(info["model"], pretrained=False, **info["model_config"])


def load_run_model(run_dir, which="best"):
    """Rebuild a run's model and load its ``which`` weights (falls back to ``last`` if no best yet).

    Returns (model, info).
    """
    info = read_run_info(run_dir)
    model = build_model(info)
    path = weights_path(run_dir, which)
    if not os.path.isfile(path) and which == "best":
        path = weights_path(run_dir, "last")
    if not os.path.isfile(path):
        raise ValueError(f"run {run_dir!r} has no weights yet ({path} is missing); has an epoch finished?")
    model.load_weights(path)
    return model, info


def load_model(run_or_name, which="best", pretrained=True, overrides=None):
    """(model, info, run_dir) of a run folder, or of a zoo entry name (info {"model": name}, run_dir None).

    A folder, or a name the zoo does not know, is read as a run folder (with its
    ``which`` weights). ``pretrained`` and ``overrides`` apply to zoo entries only.
    """
    from tfar import zoo

    if os.path.isdir(run_or_name) or run_or_name not in zoo.list_models():
        if overrides:
            raise ValueError("--set applies to zoo entries only; a run folder fixes its model config")
        model, info = load_run_model(run_or_name, which=which)
        return model, info, run_or_name
    model = zoo.load(run_or_name, pretrained=pretrained, **(overrides or {}))
    return model, {"model": run_or_name}, None


def epochs_done(run_dir):
    """Epochs recorded by the run's BackupAndRestore state (0 for a new run)."""
    path = os.path.join(run_dir, BACKUP, "training_metadata.json")
    if not os.path.isfile(path):
        return 0
    with open(path) as f:
        return int(json.load(f).get("epoch", 0))


def write_json(path, record):
    """Write a small JSON record (sorted keys, trailing newline); returns path."""
    with open(path, "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    return path


__all__ = [
    "BACKUP", "CHECKPOINTS", "EVAL_FILE", "HISTORY", "LOGS", "RUN_FILE", "SAMPLES", "TRAIN_STATS", "WEIGHTS",
    "build_model", "epochs_done", "load_model", "load_run_model", "model_config", "now", "read_run_info",
    "weights_path", "write_json", "write_run_info",
]
