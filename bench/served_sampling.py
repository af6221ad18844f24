"""Served sampling against in-process sampling: the exported ``sample`` signature, run the way
TF Serving runs it, against ``model.sample`` in the same process.

    nice -n 5 python bench/served_sampling.py --out served_sampling

For every zoo entry (``--models`` to choose), at batch 1 and 16 (``--batches``), with the same
seed and labels:

* ``served``: ``tfar.export.saved_model(tfar.zoo.load(name), dir)``, loaded by the session-based
  loader TF Serving's SavedModelBundle uses (``tf.compat.v1.saved_model.loader.load`` into a
  Session, default session config, so Grappler optimises the graph) and called by feeding and
  fetching the tensor names of the ``sample`` SignatureDef. No XLA.
* ``in_process``: ``model.sample(...)`` (the fast loop compiled by XLA).

Each is called once untimed (tracing, compilation, Grappler), then ``--runs`` interleaved rounds
(served, in-process, served, ...) are timed; the figures are medians of wall seconds. The ratio
``speed`` = in-process seconds / served seconds is served speed as a fraction of in-process
speed (1.0: as fast; 0.5: half as fast). WaveNet draws ``--length`` samples per sequence.
``equal`` is the fraction of sampled values that the two agree on (see
tfar/export/served_sampling.py for why they may differ).

``--baseline REV`` also exports each model with the ``sample_loop`` of
tfar/export/served_sampling.py at git revision REV and times it in the same rounds, to measure a
change to the loop: ``baseline_s``, ``baseline_speed`` and ``gain`` = baseline seconds / served
seconds, side by side in one process.

``--quick`` runs tiny untrained models of every family, batch 1 and 2, a few runs, in seconds;
its timings say nothing about the zoo.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SPEECH = "/usr/share/asterisk/sounds/en_US_f_Allison"

# --quick: tiny configurations of every zoo family (untrained: only cost and plumbing matter)
TINY = {
    "pixelcnn": dict(image_shape=[6, 6, 1], filters=8, num_residual_blocks=1, output_filters=8, kernel_size=3),
    "gated_pixelcnn": dict(image_shape=[6, 6, 1], filters=8, num_layers=2, output_filters=8, input_kernel_size=3),
    "pixelcnn_pp": dict(image_shape=[6, 6, 1], num_filters=8, num_resnet=1, num_hierarchies=2, num_logistic_mix=2),
    "pixelrnn_row_lstm": dict(image_shape=[6, 6, 1], units=4, num_layers=1, output_filters=8, kernel_size=3),
    "pixelrnn_diagonal_bilstm": dict(image_shape=[6, 6, 1], units=4, num_layers=1, output_filters=8, kernel_size=3),
    "wavenet": dict(num_stacks=1, layers_per_stack=3, residual_channels=8, dilation_channels=8, skip_channels=8),
}


class SessionSignature:
    """One signature of a SavedModel loaded with the session-based loader (TF Serving's path)."""

    def __init__(self, export_dir, signature):
        import tensorflow as tf
        from tensorflow.core.protobuf import config_pb2

        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], export_dir)
        sig = meta_graph.signature_def[signature]
        self.names = sorted(sig.inputs)
        self.dtypes = {n: tf.as_dtype(sig.inputs[n].dtype).as_numpy_dtype for n in self.names}
        options = config_pb2.CallableOptions()
        options.feed.extend(sig.inputs[n].name for n in self.names)
        options.fetch.append(sig.outputs["samples"].name)
        self._run = self.session._make_callable_from_options(options)

    def __call__(self, **inputs):
        return self._run(*[np.asarray(inputs[n], self.dtypes[n]) for n in self.names])[0]

    def close(self):
        self.session.close()


def speech_mel(vocoder, length):
    """Log-mel frames [length / hop, num_mels] of real speech: the first validation files, end to end."""
    from tfar.data.audio import load_corpus

    waves, _, _ = load_corpus(SPEECH, split="validation")
    wave = np.concatenate(waves)
    hop = vocoder.features["hop_length"]
    frames = vocoder.mel_spectrogram(wave[: (length // hop) * hop + vocoder.features["frame_length"]])
    if len(frames) < length // hop:
        raise ValueError(f"the validation speech covers {len(frames)} frames, fewer than {length // hop}")
    return frames[: length // hop]


def load_model(name, quick):
    from tfar import zoo

    if quick:
        overrides = {k: v for k, v in TINY[name].items() if k in zoo.info(name)["config"]}
        return zoo.load(name, pretrained=False, **overrides)
    if not zoo.info(name)["weights"]:  # speed does not depend on the weights; equality is still checked
        print(f"{name}: the entry ships no trained weights yet; timing its untrained model", flush=True)
        return zoo.load(name, pretrained=False)
    return zoo.load(name)


def baseline_loop(revision):
    """``sample_loop`` of tfar/export/served_sampling.py at git ``revision``."""
    import importlib.util
    import subprocess

    source = subprocess.run(["git", "show", f"{revision}:tfar/export/served_sampling.py"], cwd=os.path.dirname(HERE),
                            check=True, capture_output=True, text=True).stdout
    path = os.path.join(tempfile.mkdtemp(), "served_sampling_baseline.py")
    with open(path, "w") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("served_sampling_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.sample_loop


def export_with(model, directory, loop=None, xla_sample=False):
    """``tfar.export.saved_model(model, directory)``, its ``sample`` built on ``loop`` if given."""
    import tfar
    import tfar.export.saved_model_signatures as signatures

    current = signatures.sample_loop
    signatures.sample_loop = loop or current
    try:
        return tfar.export.saved_model(model, directory, xla_sample=xla_sample)
    finally:
        signatures.sample_loop = current


def measure(name, batches, runs, length, quick, seed=7, baseline=None, xla=False):
    """{batch: row} for zoo entry ``name``: medians of served and in-process wall seconds, ratio, equality."""
    import tensorflow as tf
    from tfar.zoo import is_audio

    model = load_model(name, quick)
    audio = is_audio(model)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        export_dir = export_with(model, os.path.join(tmp, "1"), xla_sample=xla)
        served = SessionSignature(export_dir, "sample")
        served_xla = SessionSignature(export_dir, "sample_xla") if xla else None
        old = None if baseline is None else SessionSignature(export_with(model, os.path.join(tmp, "0"), baseline),
                                                               "sample")
        for batch in batches:
            labels = None if model.num_classes is None else np.arange(batch, dtype=np.int32) % model.num_classes
            request = {"num_samples": batch, "seed": seed, "temperature": 1.0}
            kwargs = {}
            if labels is not None:
                request["condition"] = labels
                kwargs["condition"] = tf.constant(labels)
            if getattr(model, "features", None):  # a vocoder: the mel of real speech fixes the length
                mel = np.repeat(speech_mel(model, length)[None], batch, axis=0)
                request["features"] = mel
                kwargs.update(features=tf.constant(mel), length=length)
            elif audio:
                request["length"] = length
                kwargs["length"] = length

            def in_process():
                return model.sample(batch, seed=seed, **kwargs).numpy()

            def served_call():
                return served(**request)

            calls = {"served": served_call, "in_process": in_process}
            if old is not None:
                calls["baseline"] = lambda: old(**request)
            if served_xla is not None:
                calls["served_xla"] = lambda: served_xla(**request)
            first = {key: fn() for key, fn in calls.items()}  # warm: not timed
            times = {key: [] for key in calls}
            for _ in range(runs):
                for key, fn in calls.items():
                    start = time.perf_counter()
                    fn()
                    times[key].append(time.perf_counter() - start)
            served_s, in_process_s = (statistics.median(times[k]) for k in ("served", "in_process"))
            equal = float(np.mean(first["served"] == first["in_process"]))
            rows[str(batch)] = {
                "batch": batch, "length": length if audio else None,
                "values_per_call": int(first["served"].size),
                "served_s": served_s, "in_process_s": in_process_s,
                "speed": in_process_s / served_s,
                "served_s_runs": times["served"], "in_process_s_runs": times["in_process"],
                "equal_fraction": equal,
            }
            if audio:  # samples per wall second, and audio seconds per wall second
                rate = float(getattr(model, "sample_rate", None) or 8000)
                for key, sec in (("served", served_s), ("in_process", in_process_s)):
                    rows[str(batch)][f"{key}_samples_per_second"] = first["served"].size / sec
                    rows[str(batch)][f"{key}_real_time"] = first["served"].size / rate / sec
            note = ""
            if served_xla is not None:
                xla_s = statistics.median(times["served_xla"])
                rows[str(batch)].update(served_xla_s=xla_s, served_xla_speed=in_process_s / xla_s,
                                        served_xla_s_runs=times["served_xla"],
                                        served_xla_equal_fraction=float(np.mean(first["served_xla"] ==
                                                                                first["in_process"])))
                note += f"  sample_xla {xla_s:8.3f} s ({in_process_s / xla_s:5.2f}x)"
            if old is not None:
                baseline_s = statistics.median(times["baseline"])
                rows[str(batch)].update(baseline_s=baseline_s, baseline_speed=in_process_s / baseline_s,
                                        gain=baseline_s / served_s, baseline_s_runs=times["baseline"],
                                        baseline_equal_fraction=float(np.mean(first["baseline"] == first["served"])))
                note = f"  baseline {baseline_s:8.3f} s ({in_process_s / baseline_s:5.2f}x)"
            print(f"{name:26s} batch {batch:3d}: served {served_s:8.3f} s  in-process {in_process_s:8.3f} s  "
                  f"speed {in_process_s / served_s:5.2f}x  equal {equal:.4%}{note}", flush=True)
        served.close()
        if served_xla is not None:
            served_xla.close()
        if old is not None:
            old.close()
    return rows


def markdown(results):
    lines = [
        "# Served sampling against in-process sampling",
        "",
        f"Command: `{results['command']}`",
        "",
        "The exported `sample` signature through the session-based loader TF Serving uses (no XLA), against "
        "`model.sample` in the same process (XLA-compiled loop), same seed and labels. Medians of "
        f"{results['runs']} interleaved warm runs (wall seconds; the first call of each is excluded). "
        "speed = in-process seconds / served seconds (1.00x: served as fast as in-process). "
        f"WaveNet: {results['length']} samples per sequence. equal: fraction of sampled values identical.",
        "",
    ]
    baseline = results.get("baseline")
    if baseline:
        lines[-1] += (f" baseline: the `sample` loop of revision {baseline}, exported and timed in the same "
                      "rounds; gain = baseline seconds / served seconds.")
        lines += ["", "| entry | batch | served (s) | in-process (s) | speed | equal | baseline (s) | baseline speed "
                  "| gain |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    else:
        lines += ["", "| entry | batch | served (s) | in-process (s) | speed | equal |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, rows in results["models"].items():
        for row in rows.values():
            line = (f"| {name} | {row['batch']} | {row['served_s']:.3f} | {row['in_process_s']:.3f} | "
                    f"{row['speed']:.2f}x | {row['equal_fraction']:.2%} |")
            if baseline:
                line += f" {row['baseline_s']:.3f} | {row['baseline_speed']:.2f}x | {row['gain']:.2f}x |"
            lines.append(line)
    xla = [(name, row) for name, rows in results["models"].items() for row in rows.values() if "served_xla_s" in row]
    if xla:
        lines += ["", "The optional `sample_xla` signature (`tfar export --xla-sample`; model.sample's XLA loop), "
                  "through the same session loader, timed in the same rounds:", "",
                  "| entry | batch | sample_xla (s) | in-process (s) | speed | equal |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {name} | {row['batch']} | {row['served_xla_s']:.3f} | {row['in_process_s']:.3f} | "
                  f"{row['served_xla_speed']:.2f}x | {row['served_xla_equal_fraction']:.2%} |" for name, row in xla]
    audio = [(name, row) for name, rows in results["models"].items() for row in rows.values()
             if "served_samples_per_second" in row]
    if audio:
        lines += ["", "Audio entries: samples per wall second and real-time factor (audio seconds per wall second).", "",
                  "| entry | batch | served samples/s | in-process samples/s | served x real time | "
                  "in-process x real time |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {name} | {row['batch']} | {row['served_samples_per_second']:,.0f} | "
                  f"{row['in_process_samples_per_second']:,.0f} | {row['served_real_time']:.2f}x | "
                  f"{row['in_process_real_time']:.2f}x |" for name, row in audio]
    lines += ["", f"Machine: {results['cpu_count']} CPUs, load average at start {results['loadavg_start']}."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=None, help="zoo entries (default: every exportable one)")
    parser.add_argument("--batches", nargs="*", type=int, default=None, help="default 1 16 (quick: 1 2)")
    parser.add_argument("--runs", type=int, default=None, help="timed rounds (default 5, quick 2)")
    parser.add_argument("--length", type=int, default=None, help="WaveNet samples per sequence (default 4000)")
    parser.add_argument("--out", default=None, help="results file stem under bench/results/ (.json and .md)")
    parser.add_argument("--quick", action="store_true", help="tiny untrained models, batches 1 and 2, in seconds")
    parser.add_argument("--baseline", default=None, help="git revision whose sample loop to time side by side")
    parser.add_argument("--xla-sample", action="store_true",
                        help="also time the optional sample_xla signature (tfar export --xla-sample)")
    args = parser.parse_args(argv)

    import tfar
    from tfar import zoo

    names = args.models or [n for n in zoo.list_models() if n in TINY or not args.quick]
    batches = args.batches or ([1, 2] if args.quick else [1, 16])
    runs = args.runs or (2 if args.quick else 5)
    length = args.length or (64 if args.quick else 4000)
    results = {"command": " ".join(["python", "bench/served_sampling.py", *(argv if argv is not None else sys.argv[1:])]),
               "tfar_source": os.path.dirname(tfar.__file__), "quick": args.quick, "runs": runs, "length": length,
               "cpu_count": os.cpu_count(), "loadavg_start": [round(x, 2) for x in os.getloadavg()],
               "baseline": args.baseline, "models": {}, "skipped": {}}
    baseline = None if args.baseline is None else baseline_loop(args.baseline)
    for name in names:
        try:
            results["models"][name] = measure(name, batches, runs, length, args.quick, baseline=baseline,
                                              xla=args.xla_sample)
        except Exception as error:  # e.g. an entry that cannot be exported yet (wavenet_vocoder)
            if args.models:
                raise
            results["skipped"][name] = f"{type(error).__name__}: {error}"[:300]
            print(f"{name}: skipped ({results['skipped'][name]})", flush=True)
    results["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.out:
        stem = os.path.join(HERE, "results", args.out)
        with open(stem + ".json", "w") as f:
            json.dump(results, f, indent=1)
        with open(stem + ".md", "w") as f:
            f.write(markdown(results))
    return results


if __name__ == "__main__":
    main()
