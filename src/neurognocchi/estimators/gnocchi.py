"""The GNOCCHI estimator: fit, encode, generate from codes and sample from the code prior.

The facade over :class:`~neurognocchi.models.gnocchi.GnocchiModel` (see
:mod:`neurognocchi.estimators.base` for what every estimator shares).
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import torch

from neurognocchi._checks import (
    InvalidArgumentError,
    check_bool,
    check_choice,
    check_int,
    check_positive_int,
    check_random_state,
)
from neurognocchi.data.trials import Trials
from neurognocchi.diffusion import METHODS
from neurognocchi.estimators.base import TrialEstimator
from neurognocchi.estimators.joint import BehaviorChannels
from neurognocchi.estimators.outputs import check_sample_output, samples_as_output
from neurognocchi.estimators.parameters import (
    GNOCCHI_MODEL,
    GNOCCHI_PARAMETERS,
    docstring_section,
)
from neurognocchi.estimators.sampling import denoise_codes
from neurognocchi.models.gnocchi import GnocchiConfig, GnocchiModel

__all__ = ["GNOCCHI", "PRESETS"]

#: Named settings of GNOCCHI (``GNOCCHI.from_preset``, ``neurognocchi fit --preset``); each is a
#: set of constructor parameters over the defaults. "default": the defaults themselves, chosen
#: by the reaching study for the 2-core budget (1,500 steps there). "long": the study's longer
#: budget (3x the default epochs, EMA 0.999; docs/results.md), three times the fit time, with the
#: kept weights chosen on the validation codes' MMD to the prior (long fits on toy data lose
#: code quality while the validation loss still falls; docs/results.md). "paper":
#: the loss as the paper writes it (score + reconstruction + MMD with weight 1 each) with
#: InfoDiffusion's MMD kernel; not tuned here (a weight-1 MMD with the narrower kernel removed
#: the task variables from the codes in the study).
PRESETS = MappingProxyType(
    {
        "default": MappingProxyType({}),
        "long": MappingProxyType({"max_epochs": 900, "ema_decay": 0.999, "select_on": "mmd"}),
        "paper": MappingProxyType(
            {"rec_weight": 1.0, "mmd_weight": 1.0, "mmd_bandwidth": "code_dim_squared"}
        ),
    }
)


class GNOCCHI(TrialEstimator):
    __doc__ = f"""GNOCCHI: a diffusion model of trials conditioned on a learned per-trial code.

    Parameters
    ----------
    {docstring_section(GNOCCHI_PARAMETERS)}

    Attributes
    ----------
    bin_size_s_ : float or None
        Bin width of the fitted trials (``Trials.bin_size_s``; None for a raw array), which
        ``generate(output="rates" | "spikes")`` needs.
    behavior_names_ : tuple of str
        The behaviour channels generated with the activity (empty unless ``joint_behavior``).

    Notes
    -----
    Launched by ``torchrun``, ``fit`` trains data-parallel over the processes (see
    :func:`neurognocchi.training.train`); a `Trials` from :func:`neurognocchi.data.open_memmap`
    is read one batch at a time.
    """

    output_kind = "samples"  # generate returns activity-like samples (see evaluation.generation)

    _model_class = GnocchiModel
    _config_class = GnocchiConfig
    _parameters = GNOCCHI_PARAMETERS
    _model_params = GNOCCHI_MODEL

    def __init__(
        self,
        code_dim: int = 16,
        *,
        channels: int = 64,
        channel_mults: tuple[int, ...] = (1, 2, 2),
        n_res_blocks: int = 1,
        encoder: str = "conv",
        encoder_dim: int = 64,
        encoder_layers: int = 3,
        dropout: float = 0.0,
        schedule: str = "cosine",
        n_train_steps: int = 1000,
        rec_weight: float = 4.0,
        mmd_weight: float = 0.01,
        mmd_bandwidth: str = "code_dim",
        encoder_pooling: str = "flatten",
        code_noise: float = 0.0,
        code_dropout: float = 0.0,
        time_channels: int = 0,
        joint_behavior: bool = False,
        guidance_scale: float = 1.0,
        whiten_codes: bool = True,
        sampler: str = "unipc",
        n_sample_steps: int = 10,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool = True,
        valid_fraction: float = 0.1,
        max_epochs: int = 300,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        warmup_steps: int = 200,
        grad_clip: float = 1.0,
        ema_decay: float | None = 0.995,
        patience: int | None = None,
        select_on: str = "loss",
        precision: str = "fp32",
        compile: bool = False,
    ):
        self._store_params(locals())

    @classmethod
    def from_preset(cls, preset: str, **params) -> GNOCCHI:
        """A GNOCCHI with the settings of ``preset`` (a key of :data:`PRESETS`), then
        ``params`` over them, e.g. ``GNOCCHI.from_preset("long", code_dim=8)``."""
        check_choice(preset, "preset", sorted(PRESETS))
        return cls(**(dict(PRESETS[preset]) | params))

    def check_params(self) -> None:
        super().check_params()
        guidance = self.guidance_scale
        if guidance != 1.0 and not self.code_dropout:
            raise InvalidArgumentError(
                f"guidance_scale={guidance} needs code_dropout > 0 (the null code it guides "
                "against is learned only then)"
            )
        n_sample_steps = self.n_sample_steps
        if not 1 <= n_sample_steps <= self.n_train_steps:
            raise InvalidArgumentError(
                f"n_sample_steps must be in [1, n_train_steps={self.n_train_steps}]; "
                f"got {n_sample_steps}"
            )
        if self.sampler == "ddpm" and n_sample_steps != self.n_train_steps:
            raise InvalidArgumentError(
                f"sampler='ddpm' walks every training step: n_sample_steps must equal "
                f"n_train_steps={self.n_train_steps}; got {n_sample_steps}"
            )

    @property
    def variant(self) -> str:
        """The model's name in tables: the class name, "+ behaviour" for a joint model."""
        joint = bool(getattr(self, "behavior_names_", ()))
        return f"{type(self).__name__} + behaviour" if joint else type(self).__name__

    def _start_fit(self, X) -> None:
        """Read ``bin_size_s_`` (None for a raw array) and ``behavior_names_`` from the data."""
        self.bin_size_s_ = X.bin_size_s if isinstance(X, Trials) else None
        self.behavior_names_ = BehaviorChannels.read(X, self.joint_behavior).names

    def _fit_input(self, trials: Trials, name: str) -> np.ndarray:
        """The training array: activity, then the behaviour channels of a joint model."""
        activity = self._model_input(trials, name)
        return BehaviorChannels(self.behavior_names_).appended(activity, trials, name)

    def _data_settings(self) -> dict:
        return {"bin_size_s": self.bin_size_s_, "behavior_names": list(self.behavior_names_)}

    def _model_config(self, n_time: int, n_neurons: int, **from_data) -> dict:
        n_channels = n_neurons  # of the training array: activity, then any behaviour
        n_behavior = len(from_data.get("behavior_names", ()))
        return super()._model_config(n_time, n_channels - n_behavior, **from_data)

    def _restore_fitted(self) -> None:
        self.bin_size_s_ = self.model_.bin_size_s
        self.behavior_names_ = tuple(self.model_.behavior_names)

    def _finish_fit(self, train_data) -> None:
        if self.whiten_codes:
            raw = self._map_batches(self.model_.raw_code, train_data, self.batch_size)
            self.model_.set_code_whitening(torch.from_numpy(raw))

    def _check_n_steps(self, n_steps) -> int:
        n_steps = check_int(self.n_sample_steps if n_steps is None else n_steps, "n_steps")
        if not 1 <= n_steps <= self.model_.n_train_steps:
            raise InvalidArgumentError(
                f"n_steps must be in [1, {self.model_.n_train_steps}]; got {n_steps}"
            )
        return n_steps

    def generate(
        self,
        codes,
        *,
        n_samples: int = 1,
        n_steps: int | None = None,
        method: str | None = None,
        eta: float = 0.0,
        random_state: int | None = None,
        common_noise: bool = False,
        batch_size: int = 256,
        output: str = "activity",
        return_behavior: bool = False,
    ) -> np.ndarray:
        """Generate trials conditioned on codes.

        Parameters
        ----------
        codes : array, shape (n_codes, code_dim)
        n_samples : int
            Samples per code (each from its own starting noise).
        n_steps : int, optional
            Denoising steps (model calls; default ``n_sample_steps``, or ``n_train_steps``
            for ``method="ddpm"``, which needs them all).
        method : {"ddim", "ddpm", "dpm-solver++", "unipc"}, optional
            Sampler (default ``sampler``; see :func:`~neurognocchi.diffusion.sample`): the
            hand-written DDIM or ancestral DDPM, or diffusers' few-step ODE solvers
            DPM-Solver++ and UniPC, meant for fewer steps than DDIM at the same accuracy
            (``benchmarks/bench_sampling.py`` compares them with DDPM).
        eta : float
            DDIM stochasticity in [0, 1]; 0 is deterministic given the starting noise. Must be
            0 for the other methods.
        random_state : int, optional
            Seed of the starting noise (and, apart from it, of the Poisson draws of
            ``output="spikes"``); the same seed gives the same samples.
        common_noise : bool
            Common random numbers: sample ``k`` of every code starts from the same noise and
            gets the same noise at every stochastic step (DDPM, DDIM with ``eta > 0``; the
            solvers have none after the start), so that differences between codes come from
            the codes alone. A code's samples get the same noise whatever other codes are
            generated with it (equal to float32 rounding). Default False: every sample of
            every code has its own noise. With ``output="spikes"`` the Poisson draws share
            their uniforms across codes too.
        batch_size : int
            Trials denoised together.
        output : {"activity", "rates", "spikes"}
            "activity" (default): the samples in data units. GNOCCHI models activity
            (smoothed rates in spikes/s), so "rates" are the non-negative part of the samples
            times ``bin_size_s_``, expected counts per bin (float64), and "spikes" their
            Poisson counts (int64; see :mod:`neurognocchi.estimators.outputs`). Both need a
            model fitted on `Trials` with ``bin_size_s``.
        return_behavior : bool
            Also return each sample's generated behaviour, (n_codes, n_samples, n_time,
            len(behavior_names_)) in data units (a model fitted with ``joint_behavior``).

        Returns
        -------
        array, shape (n_codes, n_samples, n_time, n_neurons), as ``output`` says; with
        ``return_behavior``, the pair (that array, the behaviour).

        Notes
        -----
        Rows (code, sample) are denoised ``batch_size`` at a time, several codes to a batch.
        With ``common_noise`` every batch reseeds the generator from ``random_state`` and each
        noise draw is a bank of ``n_samples`` rows, row ``k`` going to sample ``k`` of
        whichever code (see :func:`~neurognocchi.diffusion.sample`), so a code's noise does
        not depend on the batch it lands in; its float32 rounding does, slightly (the
        network's arithmetic depends on the batch shape). The samples differ from those of
        ``common_noise=False`` with the same seed.
        """
        self._check_fitted()
        output = check_sample_output(output, bin_size_s=self.bin_size_s_, owner="GNOCCHI")
        code = self._check_codes(codes)
        n_samples = check_positive_int(n_samples, "n_samples")
        method = check_choice(self.sampler if method is None else method, "method", METHODS)
        if method == "ddpm" and n_steps is None:
            n_steps = self.model_.n_train_steps  # DDPM walks every training step
        n_steps = self._check_n_steps(n_steps)
        check_bool(common_noise, "common_noise")
        seed = check_random_state(random_state)
        check_bool(return_behavior, "return_behavior")
        BehaviorChannels(self.behavior_names_).check_return(return_behavior)  # before denoising
        self.model_.eval()
        options = {
            "n_steps": n_steps,
            "method": method,
            "eta": eta,
            "guidance": float(self.guidance_scale),
        }
        out = denoise_codes(
            self.model_,
            code,
            n_samples,
            seed,
            batch_size=batch_size,
            common_noise=common_noise,
            verbose=self.verbose,
            options=options,
        )
        out = out.reshape(len(code), n_samples, *out.shape[1:])  # (n_codes, K, T, N + B)
        activity, behavior = BehaviorChannels.split(out, self.model_.n_neurons)
        activity = samples_as_output(
            activity, output, bin_size_s=self.bin_size_s_, seed=seed, common_noise=common_noise
        )
        return (activity, behavior) if return_behavior else activity

    def sample_prior(self, n: int, *, random_state: int | None = None, **kwargs) -> np.ndarray:
        """Unconditional samples: codes drawn from the model's prior N(0, I), then
        :meth:`generate`.

        Parameters
        ----------
        n : int
            Number of samples.
        random_state : int, optional
            Seed of the codes and of the starting noise.
        **kwargs
            Passed to :meth:`generate` (e.g. ``output``, ``return_behavior``).

        Returns
        -------
        array, shape (n, n_time, n_neurons), in data units (or as ``output`` says); with
        ``return_behavior``, the pair (that array, the behaviour (n, n_time, n_channels)).
        """
        self._check_fitted()
        n = check_positive_int(n, "n")
        generator = torch.Generator().manual_seed(check_random_state(random_state))
        codes = self.model_.prior_codes(n, generator).numpy()  # (n, L)
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        out = self.generate(codes, n_samples=1, random_state=seed, **kwargs)
        return tuple(part[:, 0] for part in out) if isinstance(out, tuple) else out[:, 0]
