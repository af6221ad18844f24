"""Timing the samplers honestly: every method warmed before it is timed, medians of >= 3 runs.

Each function first runs every method once untimed (tracing, XLA compilation,
first-touch allocations), then times ``repeats`` rounds in which every method runs
once, interleaved, so that load from other processes hits all methods alike. The
fast, naive and parallel samplers draw the same noise for the same seed, so the
results also say whether they produced identical samples.
"""

import statistics
import time

import numpy as np
import tensorflow as tf

from tfar.arg_checks import checked_int, positive_int
from tfar.sampling.loop import sample_fast, sample_naive
from tfar.sampling.parallel import sample_parallel

MIN_REPEATS = 3


def _repeats(repeats):
    return checked_int("repeats", repeats, f"an int >= {MIN_REPEATS} (medians of at least {MIN_REPEATS} runs)",
                       lambda r: r >= MIN_REPEATS)


def timed_runs(functions, repeats=MIN_REPEATS):
    """{name: (seconds of each timed run, last result, seconds of the warm-up run)} for zero-argument callables.

    Every function runs once first, the warm-up (timed apart: it includes tracing and
    compiling); then ``repeats`` interleaved timed rounds.
    A result is converted with ``.numpy()`` where possible, so that the time
    includes the computation, not just its dispatch.
    """
    repeats = _repeats(repeats)

    def call(fn):
        out = fn()
        return tf.nest.map_structure(lambda v: v.numpy() if hasattr(v, "numpy") else v, out)

    results, warmup = {}, {}
    for name, fn in functions.items():
        start = time.perf_counter()
        results[name] = call(fn)
        warmup[name] = time.perf_counter() - start
    seconds = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            results[name] = call(fn)
            seconds[name].append(time.perf_counter() - start)
    return {name: (seconds[name], results[name], warmup[name]) for name in functions}


def compare_methods(model, num_samples=4, condition=None, length=None, seed=1, repeats=MIN_REPEATS,
                    methods=("fast", "naive")):
    """Median seconds of each sampling method, side by side, on the same seed.

    Returns {"<method>_seconds" (median of the timed runs), "<method>_runs" (every timed
    run), "<method>_warmup_seconds" (the first run, kept out of the median), "speedup"
    (naive / fast, when both ran), "identical" (all methods gave the same samples),
    "repeats"}; with "parallel" also "parallel_iterations" (full network passes) and
    "positions" (what plain ancestral sampling needs). Fast and naive run through
    ``model.sample``; parallel through ``sample_parallel`` to count its iterations.
    """
    methods = tuple(methods)
    if not methods or any(m not in ("fast", "naive", "parallel") for m in methods):
        raise ValueError(f"methods must be a non-empty subset of ('fast', 'naive', 'parallel'), got {methods!r}")
    seed_tensor, checked = _checked(model, num_samples, condition, length, seed)

    def parallel():
        flat, iterations = sample_parallel(model, num_samples, seed_tensor, 1.0, checked, None, length,
                                           return_iterations=True)
        return model.unflatten(flat), iterations

    functions = {m: (lambda m=m: model.sample(num_samples, condition=condition, length=length, seed=seed, method=m))
                 for m in methods if m != "parallel"}
    if "parallel" in methods:
        functions["parallel"] = parallel
    runs = timed_runs({m: functions[m] for m in methods}, repeats)
    result = {}
    for method, (seconds, _, warmup) in runs.items():
        result[f"{method}_seconds"] = round(statistics.median(seconds), 6)
        result[f"{method}_runs"] = [round(s, 6) for s in seconds]
        result[f"{method}_warmup_seconds"] = round(warmup, 6)
    if "fast" in methods and "naive" in methods:
        result["speedup"] = round(result["naive_seconds"] / result["fast_seconds"], 2)
    samples = [runs[m][1][0] if m == "parallel" else runs[m][1] for m in methods]
    result["identical"] = bool(all(np.array_equal(samples[0], s) for s in samples[1:]))
    result["repeats"] = len(runs[methods[0]][0])
    if "parallel" in methods:
        result["parallel_iterations"] = int(runs["parallel"][1][1])
        result["positions"] = model.num_positions(length)
    return result


def _checked(model, num_samples, condition, length, seed):
    """The sampler arguments ``model.sample`` would pass: (seed tensor, checked condition)."""
    model.build()
    return model._seed(seed), model._check_sample_condition(condition, num_samples, length)


def fast_rate(model, batch_size, length=None, condition=None, seed=1, repeats=MIN_REPEATS, jit_compile=None):
    """Aggregate positions per second of the fast sampler at ``batch_size`` (median of ``repeats``).

    ``jit_compile`` None follows the model (``sampling_jit_compile``); True/False forces it.
    """
    batch_size = positive_int("batch_size", batch_size)
    seed, condition = _checked(model, batch_size, condition, length, seed)
    n = model.num_positions(length)
    runs = timed_runs({"fast": lambda: sample_fast(model, batch_size, seed, 1.0, condition, None, length,
                                                   jit_compile=jit_compile)}, repeats)
    seconds = runs["fast"][0]
    median = statistics.median(seconds)
    return {"batch_size": batch_size, "positions": n, "seconds": round(median, 6),
            "runs": [round(s, 6) for s in seconds], "samples_per_second": round(batch_size * n / median, 1),
            "microseconds_per_step": round(1e6 * median / n, 2)}


def naive_rate(model, batch_size, length=None, positions=None, condition=None, seed=1, repeats=MIN_REPEATS):
    """Seconds per position of the naive sampler on a full-length canvas, and the whole run extrapolated.

    The naive sampler runs the full network over all N positions for every position,
    so each position costs the same; ``positions`` (default N) of them are timed and
    the total is ``N x seconds per position`` ("extrapolated": positions < N).
    """
    batch_size = positive_int("batch_size", batch_size)
    seed, condition = _checked(model, batch_size, condition, length, seed)
    n = model.num_positions(length)
    timed = n if positions is None else min(positive_int("positions", positions), n)
    runs = timed_runs({"naive": lambda: sample_naive(model, batch_size, seed, 1.0, condition, None, length,
                                                     stop=timed)}, repeats)
    per_position = statistics.median(runs["naive"][0]) / timed
    return {"batch_size": batch_size, "positions": n, "timed_positions": timed,
            "seconds_per_position": round(per_position, 6), "seconds": round(per_position * n, 3),
            "extrapolated": timed < n, "runs": [round(s, 6) for s in runs["naive"][0]]}
