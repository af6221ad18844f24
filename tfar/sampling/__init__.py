"""Samplers that only see a model's ``initial_state``/``step`` (and the naive oracle)."""

from tfar.sampling.loop import position_seed, sample_fast, sample_naive

__all__ = ["position_seed", "sample_fast", "sample_naive"]
