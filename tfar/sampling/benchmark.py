"""Time a model's fast (single-step) sampler against the naive full-recompute one.

Both draw the same noise for the same seed, so besides the two timings the result
says whether they produced identical samples.
"""

import statistics
import time

import numpy as np


def compare_methods(model, num_samples=4, condition=None, length=None, seed=1, repeats=1):
    """{"fast_seconds", "naive_seconds", "speedup", "identical"}: medians over ``repeats``.

    The fast sampler is traced once before timing; the naive one traces a single
    per-position function on its first call, which is counted.
    """
    kwargs = dict(condition=condition, length=length)
    model.sample(num_samples, seed=seed + 1, **kwargs)  # trace the compiled fast loop
    timings = {"fast": [], "naive": []}
    samples = {}
    for _ in range(repeats):
        for method in ("fast", "naive"):
            start = time.perf_counter()
            samples[method] = model.sample(num_samples, seed=seed, method=method, **kwargs).numpy()
            timings[method].append(time.perf_counter() - start)
    fast, naive = statistics.median(timings["fast"]), statistics.median(timings["naive"])
    return {
        "fast_seconds": round(fast, 3),
        "naive_seconds": round(naive, 3),
        "speedup": round(naive / fast, 2),
        "identical": bool(np.array_equal(samples["fast"], samples["naive"])),
    }
