"""Normalization check: on a tiny event space, sum_x p(x) must be exactly 1."""

import itertools

import numpy as np


def all_events(model, length=None):
    """Every possible event of a tiny model as int32 [num_levels ** N, *event_shape]."""
    event = [length if d is None else d for d in model.event_shape]
    n = int(np.prod(event))
    if model.num_levels**n > 200_000:
        raise ValueError(f"event space too large to enumerate: {model.num_levels}**{n}")
    values = np.array(list(itertools.product(range(model.num_levels), repeat=n)), dtype=np.int32)
    return values.reshape(-1, *event)


def total_probability(model, condition=None, length=None, batch_size=4096):
    """sum over all events of exp(log_prob) (float64)."""
    events = all_events(model, length)
    total = 0.0
    for start in range(0, len(events), batch_size):
        chunk = events[start : start + batch_size]
        labels = None if condition is None else np.full([len(chunk)], condition, np.int32)
        total += np.exp(model.log_prob(chunk, condition=labels).numpy().astype(np.float64)).sum()
    return total
