"""The reference synthetic dataset: a GRU policy driving MotorNet's arm to targets on a grid.

* :mod:`~neurognocchi.data.reaching.arm`: the MotorNet arm, its sensors and a batch rollout;
* :mod:`~neurognocchi.data.reaching.policy`: the GRU policy, its file format and the shipped
  policy (``policies/reaching_policy.pt``);
* :mod:`~neurognocchi.data.reaching.train_policy`: training a new policy;
* :mod:`~neurognocchi.data.reaching.dataset`: :func:`make_reaching_dataset`.

MotorNet is an optional dependency, imported only when an arm is simulated.
"""

from neurognocchi.data.reaching.arm import ArmConfig
from neurognocchi.data.reaching.dataset import (
    BEHAVIOR_NAMES,
    BIN_SIZE_S,
    endpoint_error_cm,
    make_reaching_dataset,
    simulate_reaches,
    units_to_rates,
)
from neurognocchi.data.reaching.policy import (
    PolicyTrainConfig,
    ReachingPolicy,
    default_policy_path,
    load_policy,
    save_policy,
)
from neurognocchi.data.reaching.train_policy import train_policy

__all__ = [
    "BEHAVIOR_NAMES",
    "BIN_SIZE_S",
    "ArmConfig",
    "PolicyTrainConfig",
    "ReachingPolicy",
    "default_policy_path",
    "endpoint_error_cm",
    "load_policy",
    "make_reaching_dataset",
    "save_policy",
    "simulate_reaches",
    "train_policy",
    "units_to_rates",
]
