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

import numpy as np

from neurognocchi.data.trials import Trials

__all__ = ["JointBehavior"]


class JointBehavior:
    """Mixin of :class:`~neurognocchi.estimators.GNOCCHI` for ``joint_behavior``."""

    joint_behavior: bool

    @property
    def variant(self) -> str:
        """The model's name in tables: the class name, "+ behaviour" for a joint model."""
        joint = bool(getattr(self, "behavior_names_", ()))
        return f"{type(self).__name__} + behaviour" if joint else type(self).__name__

    def _start_joint(self, X) -> None:
        """Read the behaviour channels to generate (``behavior_names_``; empty when off)."""
        self.behavior_names_ = ()
        if not self.joint_behavior:
            return
        if not isinstance(X, Trials) or X.behavior is None:
            raise ValueError(
                "joint_behavior=True generates the trials' behaviour: X must be a Trials with "
                "behavior (n_trials, n_time, n_channels)"
            )
        self.behavior_names_ = tuple(str(name) for name in X.behavior_names)

    def _fit_input(self, trials: Trials, name: str) -> np.ndarray:
        """The training array: activity, then the behaviour channels of a joint model."""
        activity = self._model_input(trials, name)
        if not self.behavior_names_:
            return activity
        if trials.behavior is None or list(trials.behavior_names) != list(self.behavior_names_):
            raise ValueError(
                f"{name} must have the behaviour channels {list(self.behavior_names_)} "
                "(joint_behavior=True)"
            )
        return np.concatenate(
            [np.asarray(activity, dtype=np.float32), np.asarray(trials.behavior, dtype=np.float32)],
            axis=-1,
        )

    def _check_return_behavior(self, return_behavior: bool) -> None:
        """An error naming ``return_behavior`` when asked of a model without behaviour."""
        if return_behavior and not self.behavior_names_:
            raise ValueError(
                "return_behavior=True needs a model fitted with joint_behavior=True; this one "
                "generates activity only"
            )

    def _split_behavior(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Generated channels (..., N + B) as (activity (..., N), behaviour (..., B))."""
        n_neurons = self.model_.n_neurons
        return out[..., :n_neurons], out[..., n_neurons:]
