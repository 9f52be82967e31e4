"""Estimator facades: ``fit`` / ``encode`` / ``generate`` / ``sample_prior`` / ``save`` / ``load``.

The estimators follow scikit-learn's conventions (constructor arguments stored as given,
``get_params``/``set_params``/``clone``, fitted attributes ending in ``_``) and hold a torch
model built at ``fit`` time from the data's shape.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from neurognocchi._io import atomic_write, atomic_write_text
from neurognocchi.data.trials import Trials
from neurognocchi.models.gnocchi import GnocchiConfig, GnocchiModel
from neurognocchi.train import TrainConfig, save_history, train

SAVE_FORMAT_VERSION = 1


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise the named device (validated)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda'; got {device!r}") from None


def as_activity(X, *, name: str = "X") -> np.ndarray:
    """The float32 ``[n_trials, n_time, n_neurons]`` activity of a `Trials` or an array."""
    if isinstance(X, Trials):
        return X.activity
    try:
        return Trials(X).activity
    except (TypeError, ValueError) as error:
        raise type(error)(f"{name}: {error}") from None


def _seed_from(random_state) -> int:
    """An int seed from ``random_state`` (None -> fresh entropy, as scikit-learn does)."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(random_state, (bool, float)) or not isinstance(random_state, (int, np.integer)):
        raise TypeError(f"random_state must be an int or None; got {random_state!r}")
    return int(random_state)


class _DiffusionEstimator(BaseEstimator):
    """Shared plumbing of the estimators: data checks, devices, saving and loading."""

    _model_file = "weights.pt"
    _config_file = "config.json"

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(trials) first"
            )

    def _check_trials_shape(self, activity: np.ndarray, name: str) -> None:
        expected = (self.model_.config.n_time, self.model_.config.n_neurons)
        if activity.shape[1:] != expected:
            raise ValueError(
                f"{name} has shape {activity.shape[1:]} per trial (n_time, n_neurons); "
                f"the model was fitted on {expected}"
            )

    def _check_codes(self, codes) -> torch.Tensor:
        codes = np.asarray(codes, dtype=np.float32)
        if codes.ndim != 2 or codes.shape[1] != self.model_.config.code_dim:
            raise ValueError(
                f"codes must have shape (n_codes, {self.model_.config.code_dim}); got {codes.shape}"
            )
        if not np.all(np.isfinite(codes)):
            raise ValueError("codes contain NaN or infinite values")
        return torch.from_numpy(codes).to(self.device_)

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``config.json`` (constructor and model settings) and ``weights.pt`` (tensors
        only) into the directory ``path``, each atomically."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        with atomic_write(path / self._model_file) as handle:
            torch.save({k: v.cpu() for k, v in self.model_.state_dict().items()}, handle)
        config = {
            "format": f"neurognocchi.{type(self).__name__}",
            "version": SAVE_FORMAT_VERSION,
            "params": self.get_params(),
            "model": json.loads(self.model_.config.to_json()),
            "fit_seconds": self.fit_seconds_,
        }
        atomic_write_text(path / self._config_file, json.dumps(config, indent=2))
        save_history(path, self.history_)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | None = None):
        """Rebuild a fitted estimator saved by :meth:`save` (weights read with
        ``weights_only=True``; no pickled objects)."""
        path = Path(path)
        config_path = path / cls._config_file
        if not config_path.is_file():
            raise FileNotFoundError(f"{str(path)!r} holds no {cls._config_file}")
        config = json.loads(config_path.read_text())
        expected = f"neurognocchi.{cls.__name__}"
        if config.get("format") != expected or config.get("version") != SAVE_FORMAT_VERSION:
            raise ValueError(
                f"{str(path)!r} holds {config.get('format')} version {config.get('version')}; "
                f"{cls.__name__}.load reads {expected} version {SAVE_FORMAT_VERSION}"
            )
        params = config["params"] | ({} if device is None else {"device": device})
        estimator = cls(**params)
        estimator.device_ = resolve_device(estimator.device)
        estimator.model_ = estimator._build_model(config["model"])
        state = torch.load(path / cls._model_file, map_location="cpu", weights_only=True)
        estimator.model_.load_state_dict(state)
        estimator.model_.to(estimator.device_).eval()
        estimator.fit_seconds_ = config.get("fit_seconds")
        history_path = path / "history.json"
        estimator.history_ = json.loads(history_path.read_text()) if history_path.exists() else []
        return estimator


class GNOCCHI(_DiffusionEstimator):
    """GNOCCHI: a diffusion model of trials conditioned on a learned per-trial code.

    Parameters
    ----------
    code_dim : int
        Size of each trial's code.
    max_epochs, batch_size, learning_rate : int, int, float
        Optimisation budget (AdamW, warm-up + cosine decay).
    random_state : int or None
        Seed of initialisation, batching, noise and validation split; None draws one.
    device : {"auto", "cpu", "cuda"}
    verbose : bool
        Progress bars on long work.
    channels, channel_mults, n_res_blocks : int, tuple, int
        Width and depth of the 1-D U-Net denoiser.
    encoder_channels, encoder_layers : int
        Width and depth of the convolutional trial encoder.
    dropout : float
        Dropout in the denoiser's residual blocks.
    schedule : {"cosine", "linear"}
        Noise schedule over ``n_train_steps`` steps.
    rec_weight, mmd_weight : float
        Weights of the reconstruction and MMD terms of the loss.
    weight_decay, ema_decay, grad_clip, warmup_steps : training settings (see TrainConfig).
    valid_fraction : float
        Fraction of the fitted trials held back (stratified by condition) for the validation
        loss, early stopping and the choice of kept weights; 0 disables validation.
    patience : int or None
        Stop after this many epochs without a better validation loss.
    n_sample_steps : int
        Default number of DDIM steps of ``generate`` and ``sample_prior``.
    """

    def __init__(
        self,
        code_dim: int = 16,
        *,
        max_epochs: int = 300,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool = True,
        channels: int = 64,
        channel_mults: tuple[int, ...] = (1, 2, 2),
        n_res_blocks: int = 1,
        encoder_channels: int = 64,
        encoder_layers: int = 3,
        dropout: float = 0.0,
        schedule: str = "cosine",
        n_train_steps: int = 1000,
        rec_weight: float = 1.0,
        mmd_weight: float = 1.0,
        weight_decay: float = 1e-4,
        ema_decay: float | None = 0.995,
        grad_clip: float = 1.0,
        warmup_steps: int = 200,
        valid_fraction: float = 0.1,
        patience: int | None = None,
        n_sample_steps: int = 50,
    ):
        self.code_dim = code_dim
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.channels = channels
        self.channel_mults = channel_mults
        self.n_res_blocks = n_res_blocks
        self.encoder_channels = encoder_channels
        self.encoder_layers = encoder_layers
        self.dropout = dropout
        self.schedule = schedule
        self.n_train_steps = n_train_steps
        self.rec_weight = rec_weight
        self.mmd_weight = mmd_weight
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.grad_clip = grad_clip
        self.warmup_steps = warmup_steps
        self.valid_fraction = valid_fraction
        self.patience = patience
        self.n_sample_steps = n_sample_steps

    def _build_model(self, config: dict) -> GnocchiModel:
        return GnocchiModel(GnocchiConfig.from_dict(config))

    def _model_config(self, n_time: int, n_neurons: int) -> dict:
        return dict(
            n_neurons=n_neurons,
            n_time=n_time,
            code_dim=self.code_dim,
            channels=self.channels,
            channel_mults=tuple(self.channel_mults),
            n_res_blocks=self.n_res_blocks,
            encoder_channels=self.encoder_channels,
            encoder_layers=self.encoder_layers,
            dropout=self.dropout,
            schedule=self.schedule,
            n_train_steps=self.n_train_steps,
            rec_weight=self.rec_weight,
            mmd_weight=self.mmd_weight,
        )

    def _train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            warmup_steps=self.warmup_steps,
            grad_clip=self.grad_clip,
            ema_decay=self.ema_decay,
            patience=self.patience,
            seed=seed,
        )

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
        """
        del y
        seed = _seed_from(self.random_state)
        train_activity, valid_activity = self._split(X, valid, seed)
        n_time, n_neurons = train_activity.shape[1:]
        self.device_ = resolve_device(self.device)
        with torch.random.fork_rng(devices=[]):  # initialise from the seed, leave global RNG alone
            torch.manual_seed(seed)
            self.model_ = self._build_model(self._model_config(n_time, n_neurons))
        self.model_.set_normalization(torch.as_tensor(np.asarray(train_activity)))
        start = time.perf_counter()
        result = train(
            self.model_,
            train_activity,
            valid_activity,
            config=self._train_config(seed),
            run_dir=run_dir,
            resume=resume,
            device=self.device_,
            verbose=self.verbose,
            desc=f"fitting {type(self).__name__}",
        )
        self.fit_seconds_ = time.perf_counter() - start
        self.history_, self.best_epoch_ = result.history, result.best_epoch
        return self

    def _split(self, X, valid, seed: int):
        if valid is not None:
            return as_activity(X), as_activity(valid, name="valid")
        if not 0 <= self.valid_fraction < 1:
            raise ValueError(f"valid_fraction must be in [0, 1); got {self.valid_fraction!r}")
        trials = X if isinstance(X, Trials) else Trials(as_activity(X))
        if self.valid_fraction == 0:
            return trials.activity, None
        train_part, valid_part = trials.split(
            (1 - self.valid_fraction, self.valid_fraction), random_state=seed
        )
        return train_part.activity, valid_part.activity

    @torch.no_grad()
    def encode(self, X, *, batch_size: int = 256) -> np.ndarray:
        """Codes of trials: (n_trials, code_dim)."""
        self._check_fitted()
        activity = as_activity(X)
        self._check_trials_shape(activity, "X")
        self.model_.eval()
        codes = [
            self.model_.encode(torch.as_tensor(activity[i : i + batch_size], device=self.device_))
            for i in range(0, len(activity), batch_size)
        ]
        return torch.cat(codes).cpu().numpy()

    def generate(
        self,
        codes,
        *,
        n_samples: int = 1,
        n_steps: int | None = None,
        method: str = "ddim",
        eta: float = 0.0,
        random_state: int | None = None,
        batch_size: int = 256,
    ) -> np.ndarray:
        """Generate trials conditioned on codes.

        Parameters
        ----------
        codes : array, shape (n_codes, code_dim)
        n_samples : int
            Samples per code (each from its own starting noise).
        n_steps : int, optional
            Denoising steps (default ``n_sample_steps``); ``method="ddpm"`` needs
            ``n_train_steps``.
        method : {"ddim", "ddpm"}
        eta : float
            DDIM stochasticity in [0, 1]; 0 is deterministic given the starting noise.
        random_state : int, optional
            Seed of the starting noise; the same seed gives the same samples.

        Returns
        -------
        array, shape (n_codes, n_samples, n_time, n_neurons), in data units.
        """
        self._check_fitted()
        code = self._check_codes(codes)
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}")
        n_steps = self.n_sample_steps if n_steps is None else n_steps
        if isinstance(n_steps, bool) or not isinstance(n_steps, int):
            raise TypeError(f"n_steps must be an int; got {n_steps!r}")
        if not 1 <= n_steps <= self.model_.config.n_train_steps:
            raise ValueError(
                f"n_steps must be in [1, {self.model_.config.n_train_steps}]; got {n_steps}"
            )
        repeated = code.repeat_interleave(n_samples, dim=0)  # (n_codes * n_samples, L)
        generator = torch.Generator(device=self.device_).manual_seed(_seed_from(random_state))
        self.model_.eval()
        show = self.verbose and len(repeated) > batch_size
        samples = [
            self.model_.generate(
                repeated[i : i + batch_size],
                n_steps=n_steps,
                method=method,
                eta=eta,
                generator=generator,
                progress=show,
            )
            for i in range(0, len(repeated), batch_size)
        ]
        out = torch.cat(samples).cpu().numpy()
        return out.reshape(len(code), n_samples, *out.shape[1:])

    def sample_prior(self, n: int, *, random_state: int | None = None, **kwargs) -> np.ndarray:
        """Unconditional samples: codes drawn from N(0, I), then :meth:`generate`.

        Returns an array (n, n_time, n_neurons) in data units; keyword arguments go to
        :meth:`generate`.
        """
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer; got {n!r}")
        generator = torch.Generator().manual_seed(_seed_from(random_state))
        codes = torch.randn((n, self.model_.config.code_dim), generator=generator).numpy()
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        return self.generate(codes, n_samples=1, random_state=seed, **kwargs)[:, 0]
