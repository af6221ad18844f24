"""Samplers that only see a model's ``initial_state``/``step`` (fast) or its full network (naive, parallel)."""

from tfar.sampling.loop import position_seed, sample_fast, sample_naive
from tfar.sampling.parallel import sample_parallel

__all__ = ["position_seed", "sample_fast", "sample_naive", "sample_parallel"]
