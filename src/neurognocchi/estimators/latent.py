"""Latent GNOCCHI: spikes in, spikes out (issue 18).

The facade over :class:`~neurognocchi.models.latent.LatentGnocchiModel`: a Poisson autoencoder
fitted on the spike counts, then GNOCCHI (encoder, conditioned denoiser, the same loss) fitted
on the autoencoder's smooth per-time latents. Codes come from the latents of a trial's counts;
``generate`` returns spikes, rates or activity made like the data's (see :meth:`generate`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurognocchi._checks import InvalidArgumentError, check_random_state
from neurognocchi.data.stats import neuron_statistics
from neurognocchi.data.trials import Trials
from neurognocchi.estimators.base import as_activity
from neurognocchi.estimators.gnocchi import GNOCCHI
from neurognocchi.estimators.heldout import check_reconstruct_output, heldout_indices
from neurognocchi.estimators.outputs import check_output, poisson_spikes, spike_seed
from neurognocchi.estimators.parameters import (
    LATENT_AUTOENCODER,
    LATENT_PARAMETERS,
    docstring_section,
)
from neurognocchi.models.latent import LatentGnocchiConfig, LatentGnocchiModel
from neurognocchi.training import TrainConfig, train

__all__ = ["LatentGNOCCHI"]

AUTOENCODER_DIR = "autoencoder"  # the first stage's run directory, inside the fit's


class LatentGNOCCHI(GNOCCHI):
    __doc__ = f"""GNOCCHI on the latents of a Poisson autoencoder: fitted on spike counts, it
    generates spike trains (LDNS's two stages, Kapoor et al. 2024, with GNOCCHI's codes).

    ``fit`` trains the autoencoder on ``trials.spikes`` for ``ae_epochs`` (Poisson likelihood,
    coordinated dropout, a temporal smoothness penalty on the latents; see
    :mod:`neurognocchi.models.poisson_ae`), then GNOCCHI on the latents of the same training
    trials for ``max_epochs``. Both stages resume from their checkpoints (``run_dir`` and
    ``run_dir/autoencoder``) and run under ``torchrun``.

    Parameters
    ----------
    {docstring_section(LATENT_PARAMETERS)}
    """

    _model_class = LatentGnocchiModel
    _config_class = LatentGnocchiConfig
    _parameters = LATENT_PARAMETERS
    joint_behavior = False  # behaviour is not generated with the latents (not a parameter here)
    _stages = ("autoencoder",)  # autoencoder_history_ is saved with the model

    def __init__(
        self,
        code_dim: int = 16,
        *,
        latent_dim: int = 16,
        ae_channels: int = 64,
        ae_layers: int = 3,
        ae_coordinated_dropout: float = 0.3,
        ae_smooth_weight: float = 0.1,
        ae_epochs: int = 200,
        ae_learning_rate: float = 2e-3,
        heldout_neurons: float = 0.0,
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

    # ------------------------------------------------------------------ configurations
    def _model_config(self, n_time: int, n_neurons: int, **from_data) -> dict:
        ae = self._config_values(LATENT_AUTOENCODER)
        ae["heldout_neurons"] = heldout_indices(n_neurons, self.heldout_neurons, self.random_state)
        diffusion = self._config_values(self._model_params)
        return {
            "autoencoder": {"n_neurons": n_neurons, "n_time": n_time, **ae},
            "diffusion": {"n_neurons": self.latent_dim, "n_time": n_time, **diffusion},
            **from_data,
        }

    def _autoencoder_train_config(self, seed: int) -> TrainConfig:
        config = self._train_config(seed)
        return TrainConfig(
            **(
                config.to_dict()
                | {
                    "max_epochs": self.ae_epochs,
                    "learning_rate": self.ae_learning_rate,
                    "ema_decay": None,
                    "select_on": "loss",  # the autoencoder's loss has no code MMD
                }
            )
        )

    # ------------------------------------------------------------------ data
    def _start_fit(self, X) -> None:
        """Check that there are counts; read the bin size and the data's smoothing."""
        if isinstance(X, Trials) and X.spikes is None:
            raise InvalidArgumentError(
                "LatentGNOCCHI fits spike counts; X is a Trials without spikes (use GNOCCHI "
                "for continuous activity)"
            )
        self.bin_size_s_ = X.bin_size_s if isinstance(X, Trials) else None
        self.behavior_names_ = ()
        self.smooth_sigma_s_ = 0.0
        if isinstance(X, Trials):
            from neurognocchi.evaluation.generation import infer_smoothing

            smoothing = infer_smoothing(X)
            self.smooth_sigma_s_ = 0.0 if smoothing is None else smoothing.sigma_s

    def _data_settings(self) -> dict:
        return {"bin_size_s": self.bin_size_s_, "smooth_sigma_s": self.smooth_sigma_s_}

    def _as_trials(self, X, name: str) -> Trials:
        if isinstance(X, Trials):
            return X
        counts = as_activity(X, name=name)
        if np.any(counts < 0) or np.any(counts != np.round(counts)):
            raise InvalidArgumentError(
                f"{name} must hold non-negative whole spike counts for LatentGNOCCHI"
            )
        return Trials(counts, spikes=counts)

    def _model_input(self, trials: Trials, name: str) -> np.ndarray:
        if trials.spikes is None:
            raise InvalidArgumentError(f"{name} has no spikes; LatentGNOCCHI reads spike counts")
        return trials.spikes

    def _restore_fitted(self) -> None:
        self.bin_size_s_ = self.model_.bin_size_s
        self.behavior_names_ = ()
        self.smooth_sigma_s_ = self.model_.smooth_sigma_s

    # ------------------------------------------------------------------ fitting
    def _train(self, train_data, valid_data, seed: int, *, run_dir, resume: bool):
        """Stage 1: the autoencoder on the counts (in ``run_dir/autoencoder``); stage 2:
        GNOCCHI on the latents of the same trials (in ``run_dir``)."""
        common = {"device": self.device_, "verbose": self.verbose, "resume": resume}
        first = train(
            self.model_.autoencoder,
            train_data,
            valid_data,
            config=self._autoencoder_train_config(seed),
            run_dir=None if run_dir is None else Path(run_dir) / AUTOENCODER_DIR,
            desc="fitting LatentGNOCCHI (autoencoder)",
            **common,
        )
        self.autoencoder_history_ = first.history
        latents = self._map_batches(self.model_.latents, train_data, self.batch_size)
        valid_latents = None
        if valid_data is not None:
            valid_latents = self._map_batches(self.model_.latents, valid_data, self.batch_size)
        self.model_.set_latent_statistics(neuron_statistics(latents))
        return train(
            self.model_.diffusion,
            latents,
            valid_latents,
            config=self._train_config(seed),
            run_dir=run_dir,
            desc="fitting LatentGNOCCHI (diffusion)",
            **common,
        )

    # ------------------------------------------------------------------ inference
    def reconstruct(self, X, *, batch_size: int = 256, output: str = "rates") -> np.ndarray:
        """Rates (n_trials, n_time, n_neurons) the autoencoder infers from the trials' counts
        (nothing sampled; the ``heldout_neurons_`` predicted from the others).

        ``output``: "rates" (default), expected counts per bin; "activity", spikes/s (per bin
        when the fit had no bin size)."""
        self._check_fitted()
        output = check_reconstruct_output(output)
        data = self._input_of(X, "X")
        self._check_trials_shape(data, "X")
        rates = self._map_batches(self.model_.reconstruct, data, batch_size)
        return rates / (self.bin_size_s_ or 1.0) if output == "activity" else rates

    @property
    def heldout_neurons_(self) -> np.ndarray:
        """Indices of the neurons the fitted autoencoder's encoder never sees (empty: none)."""
        self._check_fitted()
        return np.asarray(self.model_.heldout_neurons, dtype=np.intp)

    def generate(
        self,
        codes,
        *,
        output: str = "activity",
        random_state: int | None = None,
        common_noise: bool = False,
        **kwargs,
    ) -> np.ndarray:
        """Generate trials conditioned on codes: latents by the diffusion model (the
        arguments of :meth:`GNOCCHI.generate`), rates by the autoencoder, then spikes.

        Parameters
        ----------
        codes : array, shape (n_codes, code_dim)
        output : {"activity", "rates", "spikes"}
            "rates": expected counts per bin; "spikes": Poisson counts of those rates (int64);
            "activity" (default): the spikes made into activity as the training data's was
            (divided by the bin width and smoothed with the data's Gaussian kernel, when the
            fit found one), so that the protocol scores it like GNOCCHI's samples.
        random_state : int, optional
            Seeds the diffusion noise and, apart from it, the Poisson draws.
        common_noise : bool
            As :meth:`GNOCCHI.generate`; the Poisson draws then share their uniforms too.
        **kwargs
            ``n_samples``, ``n_steps``, ``method``, ``eta``, ``batch_size``.

        Returns
        -------
        array, shape (n_codes, n_samples, n_time, n_neurons)
        """
        output = check_output(output)
        seed = check_random_state(random_state)
        rates = super().generate(codes, random_state=seed, common_noise=common_noise, **kwargs)
        if output == "rates":
            return rates
        spikes = poisson_spikes(rates, random_state=spike_seed(seed), common_noise=common_noise)
        return spikes if output == "spikes" else self._as_data_activity(spikes)

    def _as_data_activity(self, spikes: np.ndarray) -> np.ndarray:
        """Counts (..., T, N) as the data's activity: per second (when the bin is known),
        smoothed with the data's kernel (when it has one), float32 like ``Trials``."""
        from neurognocchi.data.preprocess import gaussian_smooth

        bin_size = self.bin_size_s_ or 1.0
        activity = spikes / bin_size
        if self.smooth_sigma_s_ > 0:
            activity = gaussian_smooth(activity, sigma_s=self.smooth_sigma_s_, bin_size_s=bin_size)
        return activity.astype(np.float32)
