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

from neurognocchi import distributed
from neurognocchi._io import atomic_write, atomic_write_text
from neurognocchi.data.memmap import RowSubset, is_memory_mapped, neuron_statistics
from neurognocchi.data.trials import Trials
from neurognocchi.models.gnocchi import GnocchiConfig, GnocchiModel
from neurognocchi.models.lfads import LIKELIHOODS, LfadsConfig, LfadsModel
from neurognocchi.train import TrainConfig, save_history, train

SAVE_FORMAT_VERSION = 2  # 2: GNOCCHI stores its code whitening


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise the named device (validated).

    Under ``torchrun`` an unindexed CUDA device is this process's GPU (``LOCAL_RANK``).
    """
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available")
    try:
        return distributed.local_device(torch.device(device))
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


def _lazy_rows(data):
    """A memory-mapped array as a `RowSubset` of all its trials, which unmaps each batch after
    reading it (resident memory stays near one batch); anything else unchanged."""
    if data is None or isinstance(data, RowSubset) or not is_memory_mapped(data):
        return data
    return RowSubset(data, np.arange(len(data)))


def _check_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


class _Estimator(BaseEstimator):
    """Shared plumbing of the estimators: data checks, devices, fitting, encoding, saving and
    loading. Subclasses supply ``_build_model``, ``_model_config`` and may override the hooks
    ``_start_fit`` (inspect the data before anything else), ``_as_trials`` and
    ``_model_input`` (which array of a `Trials` the model sees; default ``activity``)."""

    _model_file = "weights.pt"
    _config_file = "config.json"
    _config_class: type  # the model's configuration dataclass

    def check_params(self) -> None:
        """Raise ValueError/TypeError naming the first invalid hyper-parameter.

        Called by :meth:`fit` before any data is read. The model and training configurations
        are built for a placeholder shape (2 time bins, 1 neuron), so every check they make
        runs without data.
        """
        if not 0 <= self.valid_fraction < 1:
            raise ValueError(f"valid_fraction must be in [0, 1); got {self.valid_fraction!r}")
        _seed_from(self.random_state)
        resolve_device(self.device)
        self._train_config(0)
        self._config_class.from_dict(self._model_config(2, 1))

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

    # ------------------------------------------------------------------ data hooks
    def _start_fit(self, X) -> None:
        """Inspect the training data before the split (nothing by default)."""

    def _as_trials(self, X, name: str) -> Trials:
        return X if isinstance(X, Trials) else Trials(as_activity(X, name=name))

    def _model_input(self, trials: Trials, name: str) -> np.ndarray:
        """The array ``[n_trials, n_time, n_neurons]`` of ``trials`` that the model reads."""
        del name
        return trials.activity

    def _input_of(self, X, name: str) -> np.ndarray:
        return self._model_input(self._as_trials(X, name), name)

    # ------------------------------------------------------------------ fitting
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
            precision=self.precision,
            compile=self.compile,
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
        self.check_params()
        seed = _seed_from(self.random_state)
        self._start_fit(X)
        train_data, valid_data = (_lazy_rows(d) for d in self._split(X, valid, seed))
        n_time, n_neurons = train_data.shape[1:]
        if n_time < 2:
            raise ValueError(
                f"X has n_time={n_time}; {type(self).__name__} models activity over time and "
                "needs at least 2 time bins per trial"
            )
        self.device_ = resolve_device(self.device)
        with torch.random.fork_rng(devices=[]):  # initialise from the seed, leave global RNG alone
            torch.manual_seed(seed)
            self.model_ = self._build_model(self._model_config(n_time, n_neurons))
        self._set_normalization(train_data)
        start = time.perf_counter()
        result = train(
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
        self._finish_fit(train_data)
        self.fit_seconds_ = time.perf_counter() - start
        self.history_, self.best_epoch_ = result.history, result.best_epoch
        return self

    def _finish_fit(self, train_data) -> None:
        """Last step of fitting, with the final weights in place (nothing by default)."""

    def _set_normalization(self, data) -> None:
        """Data statistics of the model from the training trials (a memory-mapped array is
        read a block at a time instead of being loaded whole)."""
        self.model_.set_statistics(neuron_statistics(data))

    def _split(self, X, valid, seed: int):
        if valid is not None:
            train_data, valid_data = self._input_of(X, "X"), self._input_of(valid, "valid")
            if valid_data.shape[1:] != train_data.shape[1:]:
                raise ValueError(
                    f"valid has {valid_data.shape[1:]} (n_time, n_neurons) per trial; "
                    f"X has {train_data.shape[1:]}"
                )
            return train_data, valid_data
        trials = self._as_trials(X, "X")
        if self.valid_fraction == 0:
            return self._model_input(trials, "X"), None
        if self.valid_fraction * trials.n_trials < 2:
            raise ValueError(
                f"valid_fraction={self.valid_fraction} of {trials.n_trials} trials leaves fewer "
                "than 2 validation trials; pass more trials, a larger valid_fraction, or 0"
            )
        fractions = (1 - self.valid_fraction, self.valid_fraction)
        data = self._model_input(trials, "X")
        if is_memory_mapped(data):  # select trials lazily rather than copy them
            rows = trials.split_indices(fractions, random_state=seed)
            return RowSubset(data, rows[0]), RowSubset(data, rows[1])
        train_part, valid_part = trials.split(fractions, random_state=seed)
        return self._model_input(train_part, "X"), self._model_input(valid_part, "X")

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
        """Codes of trials: (n_trials, code_dim)."""
        self._check_fitted()
        data = self._input_of(X, "X")
        self._check_trials_shape(data, "X")
        return self._map_batches(self.model_.encode, data, batch_size)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        """Write ``config.json`` (constructor and model settings) and ``weights.pt`` (tensors
        only) into the directory ``path``, each atomically. Under ``torchrun`` only rank 0
        writes (every rank holds the same weights) and every rank returns once the files exist.
        """
        self._check_fitted()
        path = Path(path)
        if distributed.is_main_process():
            self._write(path)
        distributed.barrier()
        return path

    def _write(self, path: Path) -> None:
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
        estimator._restore_fitted()
        return estimator

    def _restore_fitted(self) -> None:
        """Set fitted attributes derivable from the loaded model (nothing by default)."""


class GNOCCHI(_Estimator):
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
    encoder : {"conv", "gru"}
        The auxiliary encoder: a 1-D conv stack with time-aware pooling, or a bidirectional GRU.
    encoder_channels, encoder_layers : int
        Width of the encoder (per GRU direction for "gru") and depth of the conv encoder.
    dropout : float
        Dropout in the denoiser's residual blocks.
    schedule : {"cosine", "linear"}
        Noise schedule over ``n_train_steps`` steps.
    rec_weight, mmd_weight : float
        Weights of the reconstruction and MMD terms of the loss. The MMD pulls the codes
        towards N(0, I); on the toy data a weight of 1 bent the code -> variable map enough to
        cost 0.02-0.07 of linear R² (0.876 mean over the four variables vs 0.917 at 0.01, seed
        0), so it is light by default and ``whiten_codes`` supplies the prior's moments.
    whiten_codes : bool
        After fitting, make codes zero-mean with identity covariance over the training trials
        (an affine map stored in the model; ``generate`` inverts it), so that codes drawn from
        N(0, I) by ``sample_prior`` match the training codes' first two moments whatever
        ``mmd_weight`` is. Least-squares read-outs of the codes are unchanged by it.
    weight_decay, ema_decay, grad_clip, warmup_steps : training settings (see TrainConfig).
    valid_fraction : float
        Fraction of the fitted trials held back (stratified by condition) for the validation
        loss, early stopping and the choice of kept weights; 0 disables validation.
    patience : int or None
        Stop after this many epochs without a better validation loss.
    n_sample_steps : int
        Default number of DDIM steps of ``generate`` and ``sample_prior``.
    precision : {"fp32", "bf16"}
        Training arithmetic: ``"bf16"`` runs forward passes under bf16 autocast (CUDA only).
    compile : bool
        Run the training loss through ``torch.compile`` (see ``benchmarks/`` for when it pays).

    Notes
    -----
    Launched by ``torchrun``, ``fit`` trains data-parallel over the processes (see
    :func:`neurognocchi.train.train`); a `Trials` from :func:`neurognocchi.data.open_memmap`
    is read one batch at a time.
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
        encoder: str = "conv",
        encoder_channels: int = 64,
        encoder_layers: int = 3,
        dropout: float = 0.0,
        schedule: str = "cosine",
        n_train_steps: int = 1000,
        rec_weight: float = 4.0,
        mmd_weight: float = 0.01,
        whiten_codes: bool = True,
        weight_decay: float = 1e-4,
        ema_decay: float | None = 0.995,
        grad_clip: float = 1.0,
        warmup_steps: int = 200,
        valid_fraction: float = 0.1,
        patience: int | None = None,
        n_sample_steps: int = 50,
        precision: str = "fp32",
        compile: bool = False,
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
        self.encoder = encoder
        self.encoder_channels = encoder_channels
        self.encoder_layers = encoder_layers
        self.dropout = dropout
        self.schedule = schedule
        self.n_train_steps = n_train_steps
        self.rec_weight = rec_weight
        self.mmd_weight = mmd_weight
        self.whiten_codes = whiten_codes
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.grad_clip = grad_clip
        self.warmup_steps = warmup_steps
        self.valid_fraction = valid_fraction
        self.patience = patience
        self.n_sample_steps = n_sample_steps
        self.precision = precision
        self.compile = compile

    _config_class = GnocchiConfig

    def check_params(self) -> None:
        super().check_params()
        if not isinstance(self.whiten_codes, bool):
            raise TypeError(f"whiten_codes must be True or False; got {self.whiten_codes!r}")
        n_train_steps = self.n_train_steps
        if isinstance(self.n_sample_steps, bool) or not isinstance(self.n_sample_steps, int):
            raise TypeError(f"n_sample_steps must be an int; got {self.n_sample_steps!r}")
        if not 1 <= self.n_sample_steps <= n_train_steps:
            raise ValueError(
                f"n_sample_steps must be in [1, n_train_steps={n_train_steps}]; "
                f"got {self.n_sample_steps}"
            )

    def _build_model(self, config: dict) -> GnocchiModel:
        return GnocchiModel(GnocchiConfig.from_dict(config))

    def _finish_fit(self, train_data) -> None:
        if self.whiten_codes:
            raw = self._map_batches(self.model_.raw_code, train_data, self.batch_size)
            self.model_.set_code_whitening(torch.from_numpy(raw))

    def _model_config(self, n_time: int, n_neurons: int) -> dict:
        return dict(
            n_neurons=n_neurons,
            n_time=n_time,
            code_dim=self.code_dim,
            channels=self.channels,
            channel_mults=tuple(self.channel_mults),
            n_res_blocks=self.n_res_blocks,
            encoder=self.encoder,
            encoder_channels=self.encoder_channels,
            encoder_layers=self.encoder_layers,
            dropout=self.dropout,
            schedule=self.schedule,
            n_train_steps=self.n_train_steps,
            rec_weight=self.rec_weight,
            mmd_weight=self.mmd_weight,
        )

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
        n_samples = _check_count(n_samples, "n_samples")
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
        n = _check_count(n, "n")
        generator = torch.Generator().manual_seed(_seed_from(random_state))
        codes = torch.randn((n, self.model_.config.code_dim), generator=generator).numpy()
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        return self.generate(codes, n_samples=1, random_state=seed, **kwargs)[:, 0]


class LFADS(_Estimator):
    """LFADS (Sussillo et al. 2016; Pandarinath et al. 2018), the sequential-VAE baseline.

    A trial's code is the posterior mean of the generator's initial condition ``g0``;
    :meth:`generate` runs the generator from ``g0 = code``. With a `Trials` that has ``spikes``
    (and ``likelihood="auto"``) the model fits the counts with a Poisson likelihood and returns
    rates in spikes/s (the units of ``activity``; spikes per bin when ``bin_size_s`` is
    unknown); otherwise it fits ``activity`` with a Gaussian likelihood (z-scored per neuron,
    learned per-neuron variance) and returns activity. See :mod:`neurognocchi.models.lfads`.

    Parameters
    ----------
    code_dim : int
        Size of ``g0``, the code (the generator's state is a linear map of it).
    max_epochs, batch_size, learning_rate : int, int, float
        Optimisation budget (AdamW, warm-up + cosine decay).
    random_state : int or None
        Seed of initialisation, batching, dropout masks, sampling and validation split.
    device : {"auto", "cpu", "cuda"}
    verbose : bool
    encoder_dim, generator_dim, factor_dim : int
        Width of each direction of the encoder GRUs, of the generator GRU, number of factors.
    use_controller : bool
        Infer inputs to the generator with a controller (off by default: then the generator is
        autonomous and the code ``g0`` alone determines a trial's rates).
    controller_dim, inferred_input_dim : int
        Controller GRU width and number of inferred inputs (used with ``use_controller``).
    kl_weight, l2_weight : float
        Weights of the KL terms and of the L2 penalty on recurrent weights (loss per entry).
    kl_warmup_steps, l2_warmup_steps : int
        Optimiser steps over which each weight ramps linearly from 0 (0: no warm-up).
    coordinated_dropout : float
        Probability that an input entry is hidden from the encoders and scored (training only).
    dropout : float
        Dropout on the encoders' outputs and on the generator states read by the factors.
    clip_hidden : float
        Bound on the generator's and controller's hidden states.
    likelihood : {"auto", "poisson", "gaussian"}
        ``"auto"``: Poisson on ``trials.spikes`` when present, else Gaussian on activity; a raw
        array is continuous activity unless ``"poisson"`` (then it must hold counts).
    weight_decay, ema_decay, grad_clip, warmup_steps : training settings (see TrainConfig).
    valid_fraction, patience, precision, compile : as for GNOCCHI.

    Notes
    -----
    Defaults: ``code_dim=16`` as GNOCCHI's, for equal-size codes in comparisons; encoder and
    generator widths 64 and 16 factors, enough for low-dimensional population dynamics while
    fitting in minutes on a CPU; learning rate 1e-2 with batches of 32 (on the toy data,
    2e-2 was worse and batches of 32 reached a given quality sooner than 64); dropout 0.05
    and coordinated dropout 0.3 (0.1 gave clearly worse rates on the toy data); KL and L2
    warm-ups over 1000 steps; hidden states clipped at 5; no EMA and no weight decay (the L2
    term regularises the recurrent weights). On a CPU these small recurrent networks run
    fastest with one torch thread (``torch.set_num_threads(1)``).
    """

    def __init__(
        self,
        code_dim: int = 16,
        *,
        max_epochs: int = 300,
        batch_size: int = 32,
        learning_rate: float = 1e-2,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool = True,
        encoder_dim: int = 64,
        generator_dim: int = 64,
        factor_dim: int = 16,
        use_controller: bool = False,
        controller_dim: int = 32,
        inferred_input_dim: int = 2,
        kl_weight: float = 1.0,
        l2_weight: float = 1e-4,
        kl_warmup_steps: int = 1000,
        l2_warmup_steps: int = 1000,
        coordinated_dropout: float = 0.3,
        dropout: float = 0.05,
        clip_hidden: float = 5.0,
        likelihood: str = "auto",
        weight_decay: float = 0.0,
        ema_decay: float | None = None,
        grad_clip: float = 1.0,
        warmup_steps: int = 100,
        valid_fraction: float = 0.1,
        patience: int | None = None,
        precision: str = "fp32",
        compile: bool = False,
    ):
        self.code_dim = code_dim
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.encoder_dim = encoder_dim
        self.generator_dim = generator_dim
        self.factor_dim = factor_dim
        self.use_controller = use_controller
        self.controller_dim = controller_dim
        self.inferred_input_dim = inferred_input_dim
        self.kl_weight = kl_weight
        self.l2_weight = l2_weight
        self.kl_warmup_steps = kl_warmup_steps
        self.l2_warmup_steps = l2_warmup_steps
        self.coordinated_dropout = coordinated_dropout
        self.dropout = dropout
        self.clip_hidden = clip_hidden
        self.likelihood = likelihood
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.grad_clip = grad_clip
        self.warmup_steps = warmup_steps
        self.valid_fraction = valid_fraction
        self.patience = patience
        self.precision = precision
        self.compile = compile

    # ------------------------------------------------------------------ data
    def _start_fit(self, X) -> None:
        """Choose the likelihood (``likelihood_``) and read ``bin_size_s_`` from the data."""
        has_spikes = isinstance(X, Trials) and X.spikes is not None
        if self.likelihood == "poisson" and isinstance(X, Trials) and not has_spikes:
            raise ValueError(
                "likelihood='poisson' needs spike counts; X is a Trials without spikes"
            )
        if self.likelihood == "auto":
            self.likelihood_ = "poisson" if has_spikes else "gaussian"
        else:
            self.likelihood_ = self.likelihood
        self.bin_size_s_ = X.bin_size_s if isinstance(X, Trials) else None

    def _as_trials(self, X, name: str) -> Trials:
        if isinstance(X, Trials) or self.likelihood_ != "poisson":
            return super()._as_trials(X, name)
        counts = as_activity(X, name=name)
        if np.any(counts < 0) or np.any(counts != np.round(counts)):
            raise ValueError(
                f"{name} must hold non-negative whole spike counts for this Poisson LFADS"
            )
        return Trials(counts, spikes=counts)

    def _model_input(self, trials: Trials, name: str) -> np.ndarray:
        if self.likelihood_ != "poisson":
            return trials.activity
        if trials.spikes is None:
            raise ValueError(
                f"{name} has no spikes; this LFADS fits spike counts (likelihood 'poisson'): "
                "pass Trials with spikes or an array of counts"
            )
        return trials.spikes

    def _restore_fitted(self) -> None:
        self.likelihood_ = self.model_.config.likelihood
        self.bin_size_s_ = self.model_.config.bin_size_s

    _config_class = LfadsConfig

    def check_params(self) -> None:
        if self.likelihood not in ("auto", *LIKELIHOODS):
            raise ValueError(
                f"likelihood must be 'auto', 'poisson' or 'gaussian'; got {self.likelihood!r}"
            )
        super().check_params()

    def _build_model(self, config: dict) -> LfadsModel:
        return LfadsModel(LfadsConfig.from_dict(config))

    def _model_config(self, n_time: int, n_neurons: int) -> dict:
        names = (
            "code_dim", "encoder_dim", "generator_dim", "factor_dim", "use_controller",
            "controller_dim", "inferred_input_dim", "kl_weight", "l2_weight", "kl_warmup_steps",
            "l2_warmup_steps", "coordinated_dropout", "dropout", "clip_hidden",
        )  # fmt: skip
        return dict(
            n_neurons=n_neurons,
            n_time=n_time,
            # placeholders before fit, when check_params builds a configuration without data
            likelihood=getattr(self, "likelihood_", LIKELIHOODS[0]),
            bin_size_s=getattr(self, "bin_size_s_", None),
            **{name: getattr(self, name) for name in names},
        )

    # ------------------------------------------------------------------ inference
    def reconstruct(self, X, *, batch_size: int = 256) -> np.ndarray:
        """Posterior-mean rates (Poisson; spikes/s when ``bin_size_s`` is known) or activity
        (Gaussian) of trials: (n_trials, n_time, n_neurons). ``g0`` and any inferred inputs
        are at their posterior means; nothing is sampled."""
        self._check_fitted()
        data = self._input_of(X, "X")
        self._check_trials_shape(data, "X")
        return self._map_batches(self.model_.reconstruct, data, batch_size)

    def generate(
        self, codes, *, n_samples: int = 1, random_state: int | None = None, batch_size: int = 256
    ) -> np.ndarray:
        """Rates or activity generated from ``g0 = code``, inferred inputs at their prior mean.

        The generator is deterministic given ``g0``, so the ``n_samples`` copies per code are
        identical and ``random_state`` is unused; both exist for GNOCCHI's interface.

        Returns
        -------
        array, shape (n_codes, n_samples, n_time, n_neurons), in data units.
        """
        del random_state
        self._check_fitted()
        code = self._check_codes(codes).cpu().numpy()
        n_samples = _check_count(n_samples, "n_samples")
        out = self._map_batches(self.model_.generate, code, batch_size)
        return np.repeat(out[:, None], n_samples, axis=1)

    def sample_prior(self, n: int, *, random_state: int | None = None, **kwargs) -> np.ndarray:
        """Unconditional samples: ``g0`` drawn from its prior ``N(0, ic_prior_var I)``, then
        :meth:`generate`. Returns (n, n_time, n_neurons) in data units."""
        self._check_fitted()
        n = _check_count(n, "n")
        generator = torch.Generator().manual_seed(_seed_from(random_state))
        config = self.model_.config
        codes = torch.randn((n, config.code_dim), generator=generator) * config.ic_prior_var**0.5
        return self.generate(codes.numpy(), n_samples=1, **kwargs)[:, 0]
