"""Likelihood heads: what a network's output parameters mean."""

from tfar.distributions.bernoulli import Bernoulli
from tfar.distributions.categorical import Categorical
from tfar.distributions.discretized_logistic_mixture import DiscretizedLogisticMixture


def head_for(num_levels):
    """The default head: Bernoulli for 2 levels, a softmax otherwise."""
    if not isinstance(num_levels, int) or num_levels < 2:
        raise ValueError(f"num_levels must be an int >= 2, got {num_levels!r}")
    return Bernoulli() if num_levels == 2 else Categorical(num_levels)


__all__ = ["Bernoulli", "Categorical", "DiscretizedLogisticMixture", "head_for"]
