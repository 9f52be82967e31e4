"""The LFADS estimator: the likelihood chosen from the data, reconstruct, generate, sample_prior.

The facade over :class:`~neurognocchi.models.lfads.LfadsModel` (see
:mod:`neurognocchi.estimators.base` for what every estimator shares).
"""

from __future__ import annotations

import numpy as np
import torch

from neurognocchi._checks import (
    InvalidArgumentError,
    check_bool,
    check_positive_int,
    check_random_state,
)
from neurognocchi.data.trials import Trials
from neurognocchi.estimators.base import TrialEstimator, as_activity
from neurognocchi.estimators.heldout import check_reconstruct_output, heldout_indices
from neurognocchi.estimators.outputs import check_output, poisson_spikes, spike_seed
from neurognocchi.estimators.parameters import LFADS_MODEL, LFADS_PARAMETERS, docstring_section
from neurognocchi.models.lfads import LfadsConfig, LfadsModel

__all__ = ["LFADS"]


class LFADS(TrialEstimator):
    __doc__ = f"""\
    LFADS (Sussillo et al. 2016; Pandarinath et al. 2018), the sequential-VAE baseline.

    A trial's code is the posterior mean of the generator's initial condition ``g0``;
    :meth:`generate` runs the generator from ``g0 = code``. With a `Trials` that has ``spikes``
    (and ``likelihood="auto"``) the model fits the counts with a Poisson likelihood and returns
    rates in spikes/s (the units of ``activity``; spikes per bin when ``bin_size_s`` is
    unknown); otherwise it fits ``activity`` with a Gaussian likelihood (z-scored per neuron,
    learned per-neuron variance) and returns activity. See :mod:`neurognocchi.models.lfads`.

    Parameters
    ----------
    {docstring_section(LFADS_PARAMETERS)}

    Notes
    -----
    On a CPU these small recurrent networks run fastest with one torch thread
    (``torch.set_num_threads(1)``).
    """

    output_kind = "rates"  # generate returns noise-free rates (see evaluation.generation)

    _model_class = LfadsModel
    _config_class = LfadsConfig
    _parameters = LFADS_PARAMETERS
    _model_params = LFADS_MODEL

    def __init__(
        self,
        code_dim: int = 16,
        *,
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
        heldout_neurons: float = 0.0,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool = True,
        valid_fraction: float = 0.1,
        max_epochs: int = 300,
        batch_size: int = 32,
        learning_rate: float = 1e-2,
        weight_decay: float = 0.0,
        warmup_steps: int = 100,
        grad_clip: float = 1.0,
        ema_decay: float | None = None,
        patience: int | None = None,
        select_on: str = "loss",
        precision: str = "fp32",
        compile: bool = False,
    ):
        self._store_params(locals())

    def _model_config(self, n_time: int, n_neurons: int, **from_data) -> dict:
        config = super()._model_config(n_time, n_neurons, **from_data)
        heldout = heldout_indices(n_neurons, self.heldout_neurons, self.random_state)
        return config | {"heldout_neurons": heldout}

    @property
    def heldout_neurons_(self) -> np.ndarray:
        """Indices of the neurons the fitted encoders never see (empty: none)."""
        self._check_fitted()
        return np.asarray(self.model_.heldout_neurons, dtype=np.intp)

    # ------------------------------------------------------------------ data
    def _start_fit(self, X) -> None:
        """Choose the likelihood (``likelihood_``) and read ``bin_size_s_`` from the data."""
        has_spikes = isinstance(X, Trials) and X.spikes is not None
        if self.likelihood == "poisson" and isinstance(X, Trials) and not has_spikes:
            raise InvalidArgumentError(
                "likelihood='poisson' needs spike counts; X is a Trials without spikes"
            )
        if self.likelihood == "auto":
            self.likelihood_ = "poisson" if has_spikes else "gaussian"
        else:
            self.likelihood_ = self.likelihood
        self.bin_size_s_ = X.bin_size_s if isinstance(X, Trials) else None

    def _data_settings(self) -> dict:
        return {"likelihood": self.likelihood_, "bin_size_s": self.bin_size_s_}

    def _as_trials(self, X, name: str) -> Trials:
        if isinstance(X, Trials) or self.likelihood_ != "poisson":
            return super()._as_trials(X, name)
        counts = as_activity(X, name=name)
        if np.any(counts < 0) or np.any(counts != np.round(counts)):
            raise InvalidArgumentError(
                f"{name} must hold non-negative whole spike counts for this Poisson LFADS"
            )
        return Trials(counts, spikes=counts)

    def _model_input(self, trials: Trials, name: str) -> np.ndarray:
        if self.likelihood_ != "poisson":
            return trials.activity
        if trials.spikes is None:
            raise InvalidArgumentError(
                f"{name} has no spikes; this LFADS fits spike counts (likelihood 'poisson'): "
                "pass Trials with spikes or an array of counts"
            )
        return trials.spikes

    def _restore_fitted(self) -> None:
        self.likelihood_ = self.model_.likelihood
        self.bin_size_s_ = self.model_.bin_size_s

    # ------------------------------------------------------------------ inference
    def reconstruct(self, X, *, batch_size: int = 256, output: str = "activity") -> np.ndarray:
        """Posterior-mean rates (Poisson; spikes/s when ``bin_size_s`` is known) or activity
        (Gaussian) of trials. ``g0`` and any inferred inputs are at their posterior means;
        nothing is sampled. The ``heldout_neurons_`` are predicted from the other neurons.

        Parameters
        ----------
        X : Trials or array, shape (n_trials, n_time, n_neurons)
        batch_size : int
            Trials per forward pass.
        output : {"activity", "rates"}
            "activity" (default): data units, as above. "rates": expected counts per bin
            (float64; a Poisson LFADS only), the units of a likelihood or bits/spike.

        Returns
        -------
        array, shape (n_trials, n_time, n_neurons)
        """
        self._check_fitted()
        output = self._check_output(check_reconstruct_output(output))
        data = self._input_of(X, "X")
        self._check_trials_shape(data, "X")
        out = self._map_batches(self.model_.reconstruct, data, batch_size)
        return self._per_bin(out) if output == "rates" else out

    def _per_bin(self, rates_hz: np.ndarray) -> np.ndarray:
        """Rates in data units (spikes/s, or per bin without a bin size) as counts per bin."""
        return rates_hz.astype(np.float64) * (self.bin_size_s_ or 1.0)

    def generate(
        self,
        codes,
        *,
        n_samples: int = 1,
        random_state: int | None = None,
        common_noise: bool = False,
        batch_size: int = 256,
        output: str = "activity",
    ) -> np.ndarray:
        """Rates or activity generated from ``g0 = code``, inferred inputs at their prior mean,
        or spike counts drawn from those rates.

        The generator is deterministic given ``g0``, so for "activity" and "rates" the
        ``n_samples`` copies per code are identical and ``random_state`` and ``common_noise``
        have no effect. For "spikes" every copy is its own Poisson draw of the code's rates.

        Parameters
        ----------
        codes : array, shape (n_codes, code_dim)
        n_samples : int
        random_state : int, optional
            Seed of the Poisson draws of ``output="spikes"`` (the same seed, the same
            counts); unused otherwise.
        common_noise : bool
            With ``output="spikes"``, draw ``k`` of every code shares its uniforms, so that
            equal rates give equal counts whatever the other codes; no effect otherwise.
        batch_size : int
            Codes per forward pass.
        output : {"activity", "rates", "spikes"}
            "activity" (default): the generator's output in data units, rates in spikes/s
            (per bin when ``bin_size_s_`` is None) for a Poisson LFADS, activity for a
            Gaussian one. "rates": expected counts per bin (float64). "spikes": Poisson
            counts of them (int64; see :mod:`neurognocchi.estimators.outputs`). A Gaussian
            LFADS models continuous activity and has neither.

        Returns
        -------
        array, shape (n_codes, n_samples, n_time, n_neurons), as ``output`` says.
        """
        check_bool(common_noise, "common_noise")
        self._check_fitted()
        output = self._check_output(output)
        code = self._check_codes(codes).cpu().numpy()
        n_samples = check_positive_int(n_samples, "n_samples")
        out = self._map_batches(self.model_.generate, code, batch_size)  # (n_codes, T, N)
        out = np.repeat(out[:, None], n_samples, axis=1)  # (n_codes, K, T, N)
        if output == "activity":
            return out
        rates = self._per_bin(out)
        if output == "rates":
            return rates
        seed = spike_seed(check_random_state(random_state))
        return poisson_spikes(rates, random_state=seed, common_noise=common_noise)

    def _check_output(self, output) -> str:
        output = check_output(output)
        if output != "activity" and self.likelihood_ != "poisson":
            raise InvalidArgumentError(
                f"output={output!r} needs a Poisson LFADS; this one models continuous activity "
                "(likelihood 'gaussian') and has no rates or spikes; use output='activity'"
            )
        return output

    def sample_prior(self, n: int, *, random_state: int | None = None, **kwargs) -> np.ndarray:
        """Unconditional samples: ``g0`` drawn from its prior ``N(0, ic_prior_var I)``, then
        :meth:`generate`.

        Parameters
        ----------
        n : int
            Number of samples.
        random_state : int, optional
            Seed of the codes (and of the Poisson draws of ``output="spikes"``).
        **kwargs
            Passed to :meth:`generate` (e.g. ``output``).

        Returns
        -------
        array, shape (n, n_time, n_neurons), in data units (or as ``output`` says).
        """
        self._check_fitted()
        n = check_positive_int(n, "n")
        generator = torch.Generator().manual_seed(check_random_state(random_state))
        codes = self.model_.prior_codes(n, generator)  # (n, code_dim)
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))  # of the Poisson draws
        return self.generate(codes.numpy(), n_samples=1, random_state=seed, **kwargs)[:, 0]
