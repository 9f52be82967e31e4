"""Joint generation of activity and behaviour (issue 19): GNOCCHI's ``joint_behavior``.

With ``joint_behavior=True`` the model is fitted on each trial's activity with its behaviour
channels (``trials.behavior``, e.g. hand position and velocity) appended, so that the denoiser
generates both and every generated trial comes with its own behaviour. The encoder reads the
activity channels only (:meth:`GnocchiModel.raw_code
<neurognocchi.models.gnocchi.GnocchiModel.raw_code>`): codes come from the activity alone,
``encode`` takes activity as before, and behaviour cannot leak into a code.
``generate(..., return_behavior=True)`` returns ``(activity, behavior)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurognocchi._checks import InvalidArgumentError
from neurognocchi.data.trials import Trials

__all__ = ["BehaviorChannels"]


@dataclass(frozen=True)
class BehaviorChannels:
    """The behaviour channels a GNOCCHI generates with the activity (``names``; empty: none):
    a part of :class:`~neurognocchi.estimators.GNOCCHI`, built from its fitted
    ``behavior_names_``."""

    names: tuple[str, ...] = ()

    @classmethod
    def read(cls, X, joint_behavior: bool) -> BehaviorChannels:
        """The channels to generate with the training data ``X``: its behaviour's with
        ``joint_behavior``, none without."""
        if not joint_behavior:
            return cls()
        if not isinstance(X, Trials) or X.behavior is None:
            raise InvalidArgumentError(
                "joint_behavior=True generates the trials' behaviour: X must be a Trials with "
                "behavior (n_trials, n_time, n_channels)"
            )
        return cls(tuple(str(name) for name in X.behavior_names))

    def appended(self, activity: np.ndarray, trials: Trials, name: str) -> np.ndarray:
        """The training array of ``trials`` named ``name``: ``activity``, then these behaviour
        channels (``activity`` unchanged when there are none)."""
        if not self.names:
            return activity
        if trials.behavior is None or list(trials.behavior_names) != list(self.names):
            raise InvalidArgumentError(
                f"{name} must have the behaviour channels {list(self.names)} (joint_behavior=True)"
            )
        return np.concatenate(
            [np.asarray(activity, dtype=np.float32), np.asarray(trials.behavior, dtype=np.float32)],
            axis=-1,
        )

    def check_return(self, return_behavior: bool) -> None:
        """An error naming ``return_behavior`` when asked of a model without behaviour."""
        if return_behavior and not self.names:
            raise InvalidArgumentError(
                "return_behavior=True needs a model fitted with joint_behavior=True; this one "
                "generates activity only"
            )

    @staticmethod
    def split(out: np.ndarray, n_neurons: int) -> tuple[np.ndarray, np.ndarray]:
        """Generated channels (..., N + B) as (activity (..., N), behaviour (..., B))."""
        return out[..., :n_neurons], out[..., n_neurons:]
