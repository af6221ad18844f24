"""Test helpers that every model's tests share (causality, normalization)."""

from tfar.testing.causality import assert_causal, dependency_matrix, earlier_pixels_seen, perturbation_violations
from tfar.testing.normalization import all_events, total_probability
from tfar.testing.stepping import max_step_error

__all__ = [
    "all_events", "assert_causal", "dependency_matrix", "earlier_pixels_seen",
    "max_step_error", "perturbation_violations", "total_probability",
]
