"""Old home of the reaching policy; moved to :mod:`neurognocchi.data.reaching` (removed in 0.3).

The arm is in :mod:`neurognocchi.data.reaching.arm`, the policy and its file format in
:mod:`neurognocchi.data.reaching.policy` and its training in
:mod:`neurognocchi.data.reaching.train_policy`. ``TrainConfig`` is the old name of
:class:`~neurognocchi.data.reaching.policy.PolicyTrainConfig`.
"""

from neurognocchi.data.reaching.arm import (
    CM_PER_M,
    ArmConfig,
    centre_fingertip_m,
    joints_for_fingertip,
    make_arm,
    rollout,
)
from neurognocchi.data.reaching.policy import (
    POLICY_FORMAT_VERSION,
    PolicyTrainConfig,
    ReachingPolicy,
    default_policy_path,
    load_policy,
    save_policy,
)
from neurognocchi.data.reaching.train_policy import reaching_loss, sample_conditions, train_policy

TrainConfig = PolicyTrainConfig  # the old name (removed in 0.3)

__all__ = [
    "CM_PER_M",
    "POLICY_FORMAT_VERSION",
    "ArmConfig",
    "PolicyTrainConfig",
    "ReachingPolicy",
    "TrainConfig",
    "centre_fingertip_m",
    "default_policy_path",
    "joints_for_fingertip",
    "load_policy",
    "make_arm",
    "reaching_loss",
    "rollout",
    "sample_conditions",
    "save_policy",
    "train_policy",
]
