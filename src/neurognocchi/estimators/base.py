"""The facade shared by the estimators: parameter checks, fit, encode, batching, save and load.

The estimators follow scikit-learn's conventions (constructor arguments stored as given,
``get_params``/``set_params``/``clone``, no validation in ``__init__``, fitted attributes
ending in ``_``) and hold a torch model, built at ``fit`` time from the data's shape, in
``model_``. They reach that model only through :class:`~neurognocchi.models.base.TrialModel`
(never through its config or internals); the training loop is :func:`neurognocchi.training.train`
and the files are written and read by :mod:`neurognocchi._saving`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from neurognocchi import threads
from neurognocchi._checks import (
    InvalidArgumentError,
    check_finite_array,
    check_random_state,
    resolve_device,
)
from neurognocchi._lock import run_dir_lock
from neurognocchi._params import Parameter, legacy_values
from neurognocchi._saving import read_model_dir, write_model_dir
from neurognocchi.data._lazy import is_memory_mapped, split_rows
from neurognocchi.data.stats import neuron_statistics, warn_constant_neurons
from neurognocchi.data.trials import Trials
from neurognocchi.estimators.parameters import TRAINING
from neurognocchi.training import TrainConfig, distributed, train

__all__ = ["TrialEstimator", "as_activity"]


def as_activity(X, *, name: str = "X") -> np.ndarray:
    """The float32 ``[n_trials, n_time, n_neurons]`` activity of a `Trials` or an array.

    Examples
    --------
    >>> as_activity(np.zeros((2, 3, 4))).dtype
    dtype('float32')
    """
    if isinstance(X, Trials):
        return X.activity
    try:
        return Trials(X).activity
    except (TypeError, ValueError) as error:
        raise type(error)(f"{name}: {error}") from None


def _writer_lock(run_dir):
    """The run directory's writer lock (see :mod:`neurognocchi._lock`), held by the process
    that writes there: rank 0 under torchrun; none without a run directory."""
    if run_dir is None or not distributed.is_main_process():
        return contextlib.nullcontext()
    return run_dir_lock(run_dir)


def _read_lazily(data):
    """A memory-mapped array as a lazy selection of all its trials, which unmaps each batch
    after reading it (resident memory stays near one batch); anything else unchanged."""
    if data is None or not is_memory_mapped(data):
        return data
    (everything,) = split_rows(data, [np.arange(len(data))])
    return everything


class FittedInputChecks:
    """The parameters and input checks shared by every estimator (the training-loop ones,
    PPCA and CEBRA): the constructor's arguments stored as given and checked against their
    definitions; fitted or not, the shape of trials, the shape of codes; and ``transform``,
    :meth:`encode` under scikit-learn's name.

    A subclass names its parameters' definitions (``_parameters``, a table of
    :mod:`neurognocchi.estimators.parameters`), the attribute that ``fit`` sets
    (``_fitted_attribute``) and says what shape of trial and code its fitted model takes
    (``_trial_shape``, ``_code_dim``).
    """

    _fitted_attribute = "model_"
    _parameters: Mapping[str, Parameter] = MappingProxyType({})

    def _store_params(self, arguments: Mapping[str, object]) -> None:
        """Store the constructor's ``arguments`` (its ``locals()``) as given: scikit-learn's
        rule, no checks in ``__init__``."""
        for name in self._parameters:
            setattr(self, name, arguments[name])

    def check_params(self) -> None:
        """Raise :class:`~neurognocchi._checks.InvalidArgumentError` naming the first invalid
        parameter, by each parameter's own check (then, in a subclass, the checks that
        relate two parameters). Called by ``fit`` before any data is read."""
        for name, parameter in self._parameters.items():
            parameter.validate(getattr(self, name))

    @classmethod
    def recorded_params(cls, params: Mapping[str, object]) -> dict:
        """``params`` as a saved model or a run record of any release holds them, completed:
        a setting whose default has changed since is read as the value it had then."""
        return legacy_values(cls._parameters.values()) | dict(params)

    def _trial_shape(self) -> tuple[int, int]:
        raise NotImplementedError

    def _code_dim(self) -> int:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attribute):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(trials) first"
            )

    def _check_trials_shape(self, activity: np.ndarray, name: str) -> None:
        expected = self._trial_shape()
        if activity.shape[1:] != expected:
            raise InvalidArgumentError(
                f"{name} has shape {activity.shape[1:]} per trial (n_time, n_neurons); "
                f"the model was fitted on {expected}"
            )

    def _code_array(self, codes, dtype) -> np.ndarray:
        """``codes`` as a finite, C-contiguous (n_codes, code_dim) array of ``dtype``."""
        codes = np.ascontiguousarray(codes, dtype=dtype)  # torch takes no negative strides
        code_dim = self._code_dim()
        if codes.ndim != 2 or codes.shape[1] != code_dim:
            raise InvalidArgumentError(
                f"codes must have shape (n_codes, {code_dim}); got {codes.shape}"
            )
        return check_finite_array(codes, "codes")

    def transform(self, X) -> np.ndarray:
        """Codes of trials, (n_trials, code_dim): :meth:`encode` under scikit-learn's name, so
        that an estimator can be a step of a ``Pipeline``."""
        return self.encode(X)


class TrialEstimator(FittedInputChecks, BaseEstimator):
    """Shared plumbing of the estimators: data checks, devices, fitting, encoding, saving and
    loading.

    Subclasses set ``_model_class`` and ``_config_class`` (the model and its config),
    ``_model_params`` (the parameters that are fields of the model config, copied into it by
    name), and may override the hooks ``_start_fit`` (inspect the data before anything else),
    ``_data_settings`` (model settings read from the data), ``_as_trials`` and ``_model_input``
    (which array of a `Trials` the model sees; default ``activity``), ``_finish_fit`` and
    ``_restore_fitted``.
    """

    _model_class: type  # a torch.nn.Module implementing models.base.TrialModel
    _config_class: type  # its configuration dataclass
    _model_params: tuple[Parameter, ...] = ()
    _stages: tuple[str, ...] = ()  # earlier training stages whose <stage>_history_ is saved

    def _trial_shape(self) -> tuple[int, int]:
        return (self.model_.n_time, self.model_.n_neurons)

    def _code_dim(self) -> int:
        return self.model_.code_dim

    def _check_codes(self, codes) -> torch.Tensor:
        return torch.from_numpy(self._code_array(codes, np.float32)).to(self.device_)

    # ------------------------------------------------------------------ data hooks
    def _start_fit(self, X) -> None:
        """Inspect the training data before the split (nothing by default)."""

    def _data_settings(self) -> dict:
        """Model-config fields decided by the training data in ``_start_fit`` (none here)."""
        return {}

    def _as_trials(self, X, name: str) -> Trials:
        return X if isinstance(X, Trials) else Trials(as_activity(X, name=name))

    def _model_input(self, trials: Trials, name: str) -> np.ndarray:
        """The array ``[n_trials, n_time, n_neurons]`` of ``trials`` that the model reads."""
        del name
        return trials.activity

    def _input_of(self, X, name: str) -> np.ndarray:
        return self._model_input(self._as_trials(X, name), name)

    def _fit_input(self, trials: Trials, name: str) -> np.ndarray:
        """The array the model is trained on (default: what it reads, ``_model_input``)."""
        return self._model_input(trials, name)

    # ------------------------------------------------------------------ configurations
    def _train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(seed=seed, **{name: getattr(self, name) for name in TRAINING})

    def _model_config(self, n_time: int, n_neurons: int, **from_data) -> dict:
        """The model's config for trials of ``(n_time, n_neurons)``: the constructor's model
        parameters plus ``from_data``, the settings read from the data (``_data_settings``);
        fields left out keep the config class's defaults."""
        params = self._config_values(self._model_params)
        return {"n_neurons": n_neurons, "n_time": n_time, **params, **from_data}

    def _config_values(self, parameters) -> dict:
        """``{config field: value}`` of these constructor parameters (a parameter may set a
        field of another name, e.g. ``ae_channels`` -> ``channels``)."""
        return {p.field or p.name: getattr(self, p.name) for p in parameters}

    def _build_model(self, config: dict):
        return self._model_class(self._config_class.from_dict(config))

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, *, valid=None, run_dir=None, resume: bool = False):
        """Fit on trials.

        Parameters
        ----------
        X : Trials or array, shape (n_trials, n_time, n_neurons)
        y : ignored (scikit-learn convention)
        valid : Trials or array, optional
            Validation trials; by default ``valid_fraction`` of X is held back.
        run_dir : path, optional
            Directory for checkpoints and the metrics history (resumable).
        resume : bool
            Continue from the last checkpoint in ``run_dir``.

        Returns
        -------
        self
        """
        del y
        self.check_params()
        seed = check_random_state(self.random_state)
        self._start_fit(X)
        train_data, valid_data = (_read_lazily(d) for d in self._split(X, valid, seed))
        n_time, n_neurons = train_data.shape[1:]
        if n_time < 2:
            raise InvalidArgumentError(
                f"X has n_time={n_time}; {type(self).__name__} models activity over time and "
                "needs at least 2 time bins per trial"
            )
        self.device_ = resolve_device(self.device)
        config = self._model_config(n_time, n_neurons, **self._data_settings())
        with torch.random.fork_rng(devices=[]):  # initialise from the seed, leave global RNG alone
            torch.manual_seed(seed)
            self.model_ = self._build_model(config)
        self._set_normalization(train_data)
        threads.warn_if_spinning_under_load()  # after every input check: errors come first
        start = time.perf_counter()
        with _writer_lock(run_dir):
            result = self._train(train_data, valid_data, seed, run_dir=run_dir, resume=resume)
        self._finish_fit(train_data)
        self.fit_seconds_ = time.perf_counter() - start
        self.history_, self.best_epoch_ = result.history, result.best_epoch
        return self

    def _train(self, train_data, valid_data, seed: int, *, run_dir, resume: bool):
        """Train ``model_`` (the training loop's :class:`~neurognocchi.training.TrainResult`);
        a model trained in stages overrides this."""
        return train(
            self.model_,
            train_data,
            valid_data,
            config=self._train_config(seed),
            run_dir=run_dir,
            resume=resume,
            device=self.device_,
            verbose=self.verbose,
            desc=f"fitting {type(self).__name__}",
        )

    def _finish_fit(self, train_data) -> None:
        """Last step of fitting, with the final weights in place (nothing by default)."""

    def _set_normalization(self, data) -> None:
        """Data statistics of the model from the training trials (a memory-mapped array is
        read a block at a time instead of being loaded whole); warns about constant neurons."""
        stats = neuron_statistics(data)
        warn_constant_neurons(stats, stacklevel=4)
        self.model_.set_statistics(stats)

    def _split(self, X, valid, seed: int):
        """(training data, validation data or None), each ``[n_trials, n_time, n_neurons]``:
        copies of in-memory trials, lazy selections of memory-mapped ones."""
        if valid is not None:
            train_data = self._fit_input(self._as_trials(X, "X"), "X")
            valid_data = self._fit_input(self._as_trials(valid, "valid"), "valid")
            if valid_data.shape[1:] != train_data.shape[1:]:
                raise InvalidArgumentError(
                    f"valid has {valid_data.shape[1:]} (n_time, n_neurons) per trial; "
                    f"X has {train_data.shape[1:]}"
                )
            return train_data, valid_data
        trials = self._as_trials(X, "X")
        if self.valid_fraction == 0:
            return self._fit_input(trials, "X"), None
        if self.valid_fraction * trials.n_trials < 2:
            raise InvalidArgumentError(
                f"valid_fraction={self.valid_fraction} of {trials.n_trials} trials leaves fewer "
                "than 2 validation trials; pass more trials, a larger valid_fraction, or 0"
            )
        fractions = (1 - self.valid_fraction, self.valid_fraction)
        data = self._fit_input(trials, "X")
        return split_rows(data, trials.split_indices(fractions, random_state=seed))

    # ------------------------------------------------------------------ inference
    def _map_batches(self, function, data: np.ndarray, batch_size: int) -> np.ndarray:
        """Apply ``function`` to float32 tensors of ``batch_size`` trials; concatenate."""
        self.model_.eval()
        with torch.no_grad():
            out = [
                function(
                    torch.as_tensor(  # a copy: memory-mapped batches are read-only
                        np.array(data[i : i + batch_size], dtype=np.float32), device=self.device_
                    )
                )
                for i in range(0, len(data), batch_size)
            ]
        return torch.cat(out).cpu().numpy()

    def encode(self, X, *, batch_size: int = 256) -> np.ndarray:
        """Codes of trials.

        Parameters
        ----------
        X : Trials or array, shape (n_trials, n_time, n_neurons)
        batch_size : int
            Trials per forward pass.

        Returns
        -------
        array, shape (n_trials, code_dim)
        """
        self._check_fitted()
        data = self._input_of(X, "X")
        self._check_trials_shape(data, "X")
        return self._map_batches(self.model_.encode, data, batch_size)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted estimator into the directory ``path``: ``config.json``
        (constructor and model settings), ``weights.pt`` (tensors only) and the training
        history, each atomically (see :mod:`neurognocchi._saving`). Under ``torchrun`` only
        rank 0 writes (every rank holds the same weights) and every rank returns once the
        files exist.
        """
        self._check_fitted()
        path = Path(path)
        stages = {stage: getattr(self, f"{stage}_history_", []) for stage in self._stages}
        if distributed.is_main_process():
            write_model_dir(
                path,
                estimator_name=type(self).__name__,
                params=self.get_params(),
                model=self.model_.config_dict(),
                state=self.model_.state_dict(),
                fit_seconds=self.fit_seconds_,
                history=self.history_,
                stage_histories=stages,
            )
        distributed.barrier()
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | None = None):
        """Rebuild a fitted estimator saved by :meth:`save` (weights read with
        ``weights_only=True``; no pickled objects). ``device`` overrides the saved one."""
        saved = read_model_dir(path, estimator_name=cls.__name__)
        params = cls.recorded_params(saved.params) | ({} if device is None else {"device": device})
        estimator = cls(**params)
        estimator.device_ = resolve_device(estimator.device)
        estimator.model_ = estimator._build_model(saved.model)
        estimator.model_.load_state_dict(saved.state)
        estimator.model_.to(estimator.device_).eval()
        estimator.fit_seconds_ = saved.fit_seconds
        estimator.history_ = saved.history
        for stage in cls._stages:
            setattr(estimator, f"{stage}_history_", saved.stage_histories.get(stage, []))
        estimator._restore_fitted()
        return estimator

    def _restore_fitted(self) -> None:
        """Set fitted attributes derivable from the loaded model (nothing by default)."""
