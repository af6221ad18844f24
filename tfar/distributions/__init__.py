"""Likelihood heads: what a network's output parameters mean."""

from tfar.arg_checks import checked_int
from tfar.distributions.bernoulli import Bernoulli
from tfar.distributions.categorical import Categorical
from tfar.distributions.discretized_logistic_mixture import DiscretizedLogisticMixture


def head_for(num_levels):
    """The default head: Bernoulli for 2 levels, a softmax otherwise."""
    num_levels = checked_int("num_levels", num_levels, "an int >= 2", lambda v: v >= 2)
    return Bernoulli() if num_levels == 2 else Categorical(num_levels)


__all__ = ["Bernoulli", "Categorical", "DiscretizedLogisticMixture", "head_for"]
