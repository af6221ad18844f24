"""The model zoo registry: ``list_models()``, ``load(name)``, ``info(name)``.

Each entry is a folder ``zoo/<name>/`` shipped inside the package (as
``tfar.zoo_entries``) holding ``config.json`` (model class, constructor arguments,
dataset, measured metrics, weights file name and its SHA-256), ``MODEL_CARD.md`` and,
when trained, the weights file.
"""

import fnmatch
import hashlib
import inspect
import json
import warnings
from importlib import resources

ENTRIES_PACKAGE = "tfar.zoo_entries"


def _root():
    return resources.files(ENTRIES_PACKAGE)


def list_models(pattern=None):
    """Sorted names of the zoo entries, optionally matching a glob ``pattern`` such as "pixel*"."""
    names = sorted(p.name for p in _root().iterdir() if p.is_dir() and (p / "config.json").is_file())
    return names if pattern is None else [n for n in names if fnmatch.fnmatch(n, pattern)]


def __getattr__(name):
    if name == "list":  # the first name of list_models; it shadowed the builtin inside this module
        warnings.warn("tfar.zoo.list is deprecated; use tfar.zoo.list_models", DeprecationWarning, stacklevel=2)
        return list_models
    raise AttributeError(f"module 'tfar.zoo' has no attribute {name!r}")


def _entry(name):
    if isinstance(name, str) and name and "/" not in name and (_root() / name / "config.json").is_file():
        return _root() / name
    raise ValueError(f"Unknown model {name!r}; the zoo has: {', '.join(list_models())}")


def info(name):
    """The entry's record: class, config, dataset, measured metrics, weights and sha256."""
    entry = _entry(name)
    record = json.loads((entry / "config.json").read_text())
    card = entry / "MODEL_CARD.md"
    record["model_card"] = card.read_text() if card.is_file() else None
    return record


def is_audio(model_or_record):
    """True for an audio model (``event_shape`` (None,): sequences of any length, e.g. WaveNet).

    Also takes a zoo record (:func:`info`): audio entries have no ``image_shape``.
    """
    if isinstance(model_or_record, dict):
        return "image_shape" not in model_or_record["config"]
    return any(d is None for d in model_or_record.event_shape)


def _sha256(path):
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def config_defaults(record):
    """The constructor arguments an entry's record gives (its "config", plus a vocoder's "features" block)."""
    config = dict(record["config"])
    if "features" in record:
        config["features"] = dict(record["features"])
    return config


def load(name, pretrained=True, **config_overrides):
    """Build the model of zoo entry ``name``; with ``pretrained`` load its checked weights.

    ``config_overrides`` replace or add constructor arguments of the entry's class (e.g. a
    smaller model to fine-tune from scratch with ``pretrained=False``).
    """
    from tfar import models  # the registry sits above the models

    record = info(name)
    cls = getattr(models, record["class"])
    config = config_defaults(record)
    arguments = [p.name for p in inspect.signature(cls.__init__).parameters.values()
                 if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    known = set(config) | set(arguments)
    unknown = set(config_overrides) - known
    if unknown:
        raise ValueError(f"unknown config overrides {sorted(unknown)} for {name!r}; known: {sorted(known)}")
    config.update(config_overrides)
    model = cls(**config)
    model.build()
    if not pretrained:
        return model
    if not record.get("weights"):
        raise ValueError(f"zoo entry {name!r} ships no trained weights yet; use pretrained=False")
    weights = _entry(name) / record["weights"]
    if not weights.is_file():
        raise ValueError(f"zoo entry {name!r}: weights file {record['weights']} is missing from the package")
    actual = _sha256(weights)
    if actual != record["weights_sha256"]:
        raise ValueError(
            f"zoo entry {name!r}: weights file {weights} is corrupted (sha256 {actual}, "
            f"expected {record['weights_sha256']})"
        )
    changed = {k: v for k, v in config_overrides.items() if config_defaults(record).get(k) != v}
    try:
        with resources.as_file(weights) as path:
            model.load_weights(str(path))
    except (ValueError, KeyError) as error:
        hint = f" (overrides {changed} change the architecture; use pretrained=False)" if changed else ""
        raise ValueError(f"zoo entry {name!r}: cannot load weights {weights.name}{hint}: {error}") from None
    return model


def results_table(audio=False):
    """The README's results table (markdown) for the image entries, or for the audio ones.

    Every figure comes from the entries' ``config.json`` metrics, which ``tfar zoo card``
    writes from the run files; best test figure first.
    """
    records = [info(name) for name in list_models()]
    # entries without a test figure yet (e.g. a vocoder before its training) have no row
    records = [r for r in records if is_audio(r) == audio and r["metrics"].get("test_nats_per_sample" if audio
                                                                             else "test_bits_per_dim") is not None]
    unit = "nats/sample" if audio else "bits/dim"
    key = "test_nats_per_sample" if audio else "test_bits_per_dim"
    records.sort(key=lambda r: r["metrics"].get(key, float("inf")))
    lines = [f"| zoo name | model | params | steps | examples | training, h | examples/s | best epoch "
             f"| validation {unit} | test {unit} |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    validation = "validation_nats_per_sample" if audio else "validation_bits_per_dim"

    def cell(m, name, fmt="{:,}"):
        return fmt.format(m[name]) if m.get(name) is not None else "?"

    for r in records:
        m = r["metrics"]
        lines.append(f"| `{r['name']}` | {r['class']} | {cell(m, 'params')} | {cell(m, 'train_steps')} | "
                     f"{cell(m, 'train_examples')} | {m['train_wall_seconds'] / 3600:.2f} | "
                     f"{cell(m, 'train_images_per_second_median', '{:.1f}')} | {cell(m, 'best_epoch')} | "
                     f"{cell(m, validation, '{:.3f}')} | **{m[key]:.3f}** |")
    return "\n".join(lines)


__all__ = ["info", "is_audio", "list_models", "load", "results_table"]
