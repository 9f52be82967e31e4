"""LFADS: a sequential VAE of trials (Sussillo et al. 2016; Pandarinath et al. 2018).

Written from the papers' equations. For a trial ``x`` (T, N):

* a bidirectional GRU reads ``x``; its two final states give the Gaussian posterior
  ``q(g0 | x) = N(mu, sigma^2)`` of the generator's initial condition (variance floored at
  ``ic_post_var_min``); the prior is ``N(0, ic_prior_var I)``. ``g0`` is the trial's **code**
  (its posterior mean); a linear map turns it into the generator's first state;
* optionally (``use_controller``) a second bidirectional GRU encodes ``x`` per time step; a
  controller GRU reads that encoding and the previous factors and emits the Gaussian posterior
  of an inferred input ``u_t`` to the generator, whose prior is an AR(1) process with learned
  time constant and variance;
* a generator GRU (state clipped to ``+-clip_hidden``) unrolls ``n_time`` steps; factors are a
  linear map of its state whose rows have unit norm (so the factors' scale is set by the
  generator, not by the readout); a linear readout of the factors gives per-bin log-rates
  (Poisson likelihood on counts) or means (Gaussian likelihood on z-scored continuous activity,
  with a learned per-neuron variance floored at 1e-3).

Loss, per data entry (nats per bin per neuron)::

    reconstruction + kl_weight * w(step, kl_warmup_steps) * (KL_g0 + KL_inputs) / (T N)
                   + l2_weight * w(step, l2_warmup_steps) * L2

with ``w`` a linear warm-up from 0 to 1 and ``L2 = 0.5 * sum of squares`` of the generator's and
controller's recurrent matrices. ``KL_g0`` is exact; ``KL_inputs`` sums, over time, the exact
KL between each step's posterior and the AR(1) prior given the sampled previous input (a
one-sample estimate of the sequence KL, each term >= 0). With ``kl_weight = 1`` and no L2 the
loss is the negative ELBO per entry.

**Coordinated dropout** (Keshtkaran & Pandarinath 2019): in training, each input entry is
zeroed with probability ``coordinated_dropout`` (kept ones scaled by ``1 / (1 - p)``) and the
reconstruction is averaged over the dropped entries only, so the model cannot pass inputs
through to its outputs. In eval mode nothing is dropped, every entry is scored and the warm-ups
are over (full weights), so validation losses of different epochs are comparable.

**Held-out neurons** (``heldout_neurons``, co-smoothing as in the Neural Latents Benchmark):
their entries are zeroed in every input the encoders read, in training and inference, and
always scored, so their rates are predicted from the other neurons alone.

Glossary of the names in the code::

    g0           the generator's initial condition; its posterior mean is the trial's code
    ic_*         of the initial condition (ic_encoder, ic_prior_var, ic_post_var_min)
    u_t          inferred input: what the controller feeds the generator (use_controller)
    factors      unit-norm linear map of the generator state (factor_dim of them)
    readout      factors -> per-bin log-rates (Poisson) or z-scored means (Gaussian)
    kl_g0        KL(q(g0 | x) || N(0, ic_prior_var I)), per data entry
    kl_inputs    KL of the inferred inputs to their AR(1) prior, per data entry
    model units  counts (Poisson) or activity z-scored by ``scaler`` (Gaussian)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from neurognocchi._checks import InvalidArgumentError, check_activity
from neurognocchi.models.base import ConfiguredModel
from neurognocchi.models.config import LIKELIHOODS, LfadsConfig
from neurognocchi.models.heldout import input_keep
from neurognocchi.models.likelihoods import (
    ar1_step_prior,
    gaussian_nll,
    kl_diagonal_normal,
    poisson_nll,
)
from neurognocchi.nn.gru import ClippedGRUCell
from neurognocchi.nn.scaler import NeuronScaler

__all__ = ["LIKELIHOODS", "LfadsConfig", "LfadsModel", "coordinated_dropout_mask", "warmup_factor"]

_MIN_OBS_VAR = 1e-3  # floor of the Gaussian observation variance (z-scored units)
_MIN_INPUT_VAR = 1e-4  # floor of the inferred inputs' posterior variance


def warmup_factor(step: int, n_steps: int) -> float:
    """Linear warm-up: ``step / n_steps`` capped at 1 (0 at step 0); 1 when ``n_steps`` is 0.

    Examples
    --------
    >>> warmup_factor(250, 1000), warmup_factor(2000, 1000), warmup_factor(5, 0)
    (0.25, 1.0, 1.0)
    """
    return 1.0 if n_steps <= 0 else min(1.0, step / n_steps)


def coordinated_dropout_mask(
    shape: tuple[int, ...], rate: float, *, generator: torch.Generator | None
) -> torch.Tensor:
    """Boolean mask of the entries kept (True) when each is dropped with probability ``rate``.

    Drawn on the CPU from ``generator`` so the result does not depend on the device.
    """
    return torch.rand(shape, generator=generator) >= rate


def _dropout(x: torch.Tensor, rate: float, generator: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout with masks drawn from ``generator`` (not the global RNG)."""
    if rate == 0:
        return x
    keep = coordinated_dropout_mask(tuple(x.shape), rate, generator=generator).to(x.device)
    return x * keep / (1.0 - rate)


class LfadsModel(ConfiguredModel):
    """Encoders, optional controller, generator, factors and readout, with the LFADS loss.

    Inputs are in data units: spike counts per bin (Poisson) or continuous activity (Gaussian,
    z-scored per neuron inside the model by its :class:`~neurognocchi.nn.NeuronScaler`, with
    statistics set by :meth:`set_statistics`). Outputs of :meth:`reconstruct` and
    :meth:`generate` are in data units: rates in spikes/s (spikes per bin when ``bin_size_s`` is
    None) or activity.

    Parameters
    ----------
    config : LfadsConfig
    """

    def __init__(self, config: LfadsConfig):
        super().__init__()
        self.config = c = config
        self.ic_encoder = nn.GRU(c.n_neurons, c.encoder_dim, batch_first=True, bidirectional=True)
        self.to_ic = nn.Linear(2 * c.encoder_dim, 2 * c.code_dim)  # mean, log-variance of g0
        self.ic_to_generator = nn.Linear(c.code_dim, c.generator_dim)
        input_dim = c.inferred_input_dim if c.use_controller else 0
        self.generator = ClippedGRUCell(input_dim, c.generator_dim, clip_value=c.clip_hidden)
        self.factors = nn.Linear(c.generator_dim, c.factor_dim, bias=False)  # rows normalised
        self.readout = nn.Linear(c.factor_dim, c.n_neurons)
        if c.likelihood == "gaussian":
            self.log_var = nn.Parameter(torch.zeros(c.n_neurons))  # per-neuron, z-scored units
        if c.use_controller:
            self.controller_encoder = nn.GRU(
                c.n_neurons, c.encoder_dim, batch_first=True, bidirectional=True
            )
            self.controller = ClippedGRUCell(
                2 * c.encoder_dim + c.factor_dim, c.controller_dim, clip_value=c.clip_hidden
            )
            self.controller_init = nn.Parameter(torch.zeros(c.controller_dim))
            self.to_inputs = nn.Linear(c.controller_dim, 2 * c.inferred_input_dim)
            # AR(1) prior of the inputs: time constant 10 bins, variance 0.1 at the start.
            self.ar_log_tau = nn.Parameter(torch.full((c.inferred_input_dim,), math.log(10.0)))
            self.ar_log_var = nn.Parameter(torch.full((c.inferred_input_dim,), math.log(0.1)))
        self.scaler = NeuronScaler(c.n_neurons)  # used by the Gaussian likelihood only
        # 0 at the held-out neurons (co-smoothing), which the encoders never see; not saved
        # with the weights (the config rebuilds it)
        self.register_buffer(
            "input_keep", input_keep(c.n_neurons, c.heldout_neurons), persistent=False
        )

    # ------------------------------------------------------------------ TrialModel members
    @property
    def likelihood(self) -> str:
        """ "poisson" (spike counts) or "gaussian" (continuous activity)."""
        return self.config.likelihood

    @property
    def bin_size_s(self) -> float | None:
        """Bin width in seconds (None when unknown: rates stay per bin)."""
        return self.config.bin_size_s

    @property
    def heldout_neurons(self) -> tuple[int, ...]:
        """Neurons the encoders never see (co-smoothing; empty: none)."""
        return self.config.heldout_neurons

    def prior_codes(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """``n`` codes (n, code_dim) from the prior of g0, N(0, ic_prior_var I), drawn on the
        CPU from ``generator``."""
        return torch.randn((n, self.code_dim), generator=generator) * self.config.ic_prior_var**0.5

    # ------------------------------------------------------------------ data units
    @torch.no_grad()
    def set_statistics(self, stats: Mapping[str, Any]) -> None:
        """Set data statistics from :func:`~neurognocchi.data.stats.neuron_statistics` of the
        training trials.

        Gaussian: store the per-neuron mean and s.d. used to z-score (s.d. 0 -> 1) in
        ``scaler``. Poisson: counts are read raw; the readout bias starts at the log of each
        neuron's mean count per bin (floored at 1e-3), so training begins from the mean-rate
        model.
        """
        if self.config.likelihood == "gaussian":
            self.scaler.load_statistics(stats)
        else:
            mean = torch.as_tensor(stats["mean"], dtype=torch.float64)
            self.readout.bias.copy_(mean.clamp_min(1e-3).log().float())

    def _model_units(self, x: torch.Tensor) -> torch.Tensor:
        return self.scaler(x) if self.config.likelihood == "gaussian" else x

    def _encoder_input(self, x_in: torch.Tensor) -> torch.Tensor:
        """Model-unit inputs (B, T, N) as the encoders read them: held-out neurons at 0."""
        return x_in * self.input_keep if self.config.heldout_neurons else x_in

    def _data_units(self, out: torch.Tensor) -> torch.Tensor:
        """Readout (log-rate per bin or z-scored mean) -> rates (Hz or per bin) or activity."""
        if self.config.likelihood == "gaussian":
            return self.scaler.inverse(out)
        rate = torch.exp(out)  # spikes per bin
        return rate if self.config.bin_size_s is None else rate / self.config.bin_size_s

    def _nll(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.config.likelihood == "gaussian":
            return gaussian_nll(out, self.log_var.clamp_min(math.log(_MIN_OBS_VAR)), target)
        return poisson_nll(out, target)

    # ------------------------------------------------------------------ pieces
    def factor_weight(self) -> torch.Tensor:
        """The factor map (factor_dim, generator_dim) with each row scaled to unit norm."""
        weight = self.factors.weight
        return weight / weight.norm(dim=1, keepdim=True).clamp_min(1e-8)

    def recurrent_l2(self) -> torch.Tensor:
        """``0.5 * sum of squares`` of the generator's (and controller's) recurrent matrices."""
        cells = [self.generator] + ([self.controller] if self.config.use_controller else [])
        return 0.5 * sum(w.pow(2).sum() for cell in cells for w in cell.recurrent_weights())

    def loss_weights(self, step: int) -> tuple[float, float]:
        """KL and L2 weights at ``step`` (full weights in eval mode)."""
        c = self.config
        if not self.training:
            return c.kl_weight, c.l2_weight
        return (
            c.kl_weight * warmup_factor(step, c.kl_warmup_steps),
            c.l2_weight * warmup_factor(step, c.l2_warmup_steps),
        )

    def posterior_g0(self, x_in, *, generator=None, dropout: float = 0.0):
        """Mean and variance, each (B, code_dim), of q(g0 | x) for model-unit inputs (B, T, N)."""
        _, last = self.ic_encoder(x_in)  # (2, B, E): final forward state, final backward state
        encoding = _dropout(torch.cat([last[0], last[1]], dim=-1), dropout, generator)
        mean, log_var = self.to_ic(encoding).chunk(2, dim=-1)
        return mean, torch.exp(log_var) + self.config.ic_post_var_min

    def _controller_encoding(self, x_in, *, generator=None, dropout: float = 0.0):
        encoding, _ = self.controller_encoder(x_in)  # (B, T, 2E)
        return _dropout(encoding, dropout, generator)

    def _unroll(self, g0, encoding=None, *, sample=False, generator=None, dropout=0.0):
        """Run the generator from ``g0`` (B, code_dim) for ``n_time`` steps.

        ``encoding`` (B, T, 2E) drives the controller; without it the inferred inputs sit at
        their prior mean, 0. ``sample`` draws the inputs from their posterior (else its mean).
        Returns the readout (B, T, N) and the inputs' KL (B,) (zeros without ``encoding``).
        """
        c, n_batch = self.config, g0.shape[0]
        weight = self.factor_weight()  # (F, G)
        state = self.ic_to_generator(g0).clamp(-c.clip_hidden, c.clip_hidden)  # (B, G)
        state_keep = None
        if dropout > 0:
            shape = (n_batch, c.n_time, c.generator_dim)
            state_keep = coordinated_dropout_mask(shape, dropout, generator=generator)
            state_keep = state_keep.to(g0.device) / (1.0 - dropout)
        kl = g0.new_zeros(n_batch)
        if encoding is not None:
            control = self.controller_init.expand(n_batch, -1)  # (B, C)
            factor = state @ weight.T  # (B, F)
            input_noise = None
            if sample:
                shape = (n_batch, c.n_time, c.inferred_input_dim)
                input_noise = torch.randn(shape, generator=generator).to(g0.device)
            previous = None
        states = []
        for t in range(c.n_time):
            inputs = None
            if encoding is not None:
                control = self.controller(torch.cat([encoding[:, t], factor], dim=-1), control)
                mean, log_var = self.to_inputs(control).chunk(2, dim=-1)  # (B, U) each
                var = torch.exp(log_var) + _MIN_INPUT_VAR
                inputs = mean + var.sqrt() * input_noise[:, t] if sample else mean
                prior_mean, prior_var = ar1_step_prior(previous, self.ar_log_tau, self.ar_log_var)
                kl = kl + kl_diagonal_normal(mean, var, prior_mean, prior_var.clamp_min(1e-6))
                previous = inputs
            elif c.use_controller:
                inputs = g0.new_zeros(n_batch, c.inferred_input_dim)
            state = self.generator(inputs, state)
            states.append(state)
            if encoding is not None:  # the controller reads these factors at the next step
                factor = (state if state_keep is None else state * state_keep[:, t]) @ weight.T
        states = torch.stack(states, dim=1)  # (B, T, G)
        if state_keep is not None:
            states = states * state_keep
        return self.readout(states @ weight.T), kl  # (B, T, N), (B,)

    # ------------------------------------------------------------------ model API
    def loss(self, x: torch.Tensor, *, generator: torch.Generator | None = None, step: int = 0):
        """Training loss for a batch x (B, T, N) in data units (see the module docstring).

        Returns a dict with ``loss`` and its parts, each per data entry: ``reconstruction``
        (mean NLL over the scored entries), ``kl_g0``, ``kl_inputs``, ``l2`` (unweighted) and
        the weights in force, ``kl_scale`` and ``l2_scale``. All randomness comes from
        ``generator`` (drawn on the CPU); its first draw is the coordinated-dropout mask.
        """
        c = self.config
        check_activity(x, "x", c.n_neurons)
        target = self._model_units(x)  # (B, T, N)
        cd_rate, dropout = (c.coordinated_dropout, c.dropout) if self.training else (0.0, 0.0)
        scored, x_in = None, target
        if cd_rate > 0:
            keep = coordinated_dropout_mask(tuple(x.shape), cd_rate, generator=generator)
            keep = keep.to(x.device)
            scored, x_in = ~keep, target * keep / (1.0 - cd_rate)
            if c.heldout_neurons:  # never seen, so always scored
                scored = scored | (self.input_keep == 0)
        x_in = self._encoder_input(x_in)
        mean, var = self.posterior_g0(x_in, generator=generator, dropout=dropout)
        g0 = mean + var.sqrt() * torch.randn(mean.shape, generator=generator).to(x.device)
        encoding = None
        if c.use_controller:
            encoding = self._controller_encoding(x_in, generator=generator, dropout=dropout)
        out, kl_inputs = self._unroll(
            g0, encoding, sample=True, generator=generator, dropout=dropout
        )
        nll = self._nll(out, target)  # (B, T, N)
        if scored is None:
            reconstruction = nll.mean()
        else:
            reconstruction = (nll * scored).sum() / scored.sum().clamp_min(1)
        n_entries = c.n_time * c.n_neurons
        kl_g0 = kl_diagonal_normal(mean, var, 0.0, c.ic_prior_var).mean() / n_entries
        kl_inputs = kl_inputs.mean() / n_entries
        l2 = self.recurrent_l2()
        kl_scale, l2_scale = self.loss_weights(step)
        total = reconstruction + kl_scale * (kl_g0 + kl_inputs) + l2_scale * l2
        return {
            "loss": total,
            "reconstruction": reconstruction,
            "kl_g0": kl_g0,
            "kl_inputs": kl_inputs,
            "l2": l2,
            "kl_scale": torch.tensor(kl_scale),
            "l2_scale": torch.tensor(l2_scale),
        }

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (B, code_dim): posterior means of g0 for trials x (B, T, N) in data units."""
        check_activity(x, "x", self.config.n_neurons)
        return self.posterior_g0(self._encoder_input(self._model_units(x)))[0]

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior-mean rates or activity (B, T, N), data units, for trials x (B, T, N).

        ``g0`` and the inferred inputs are at their posterior means (no sampling, no dropout).
        """
        check_activity(x, "x", self.config.n_neurons)
        x_in = self._encoder_input(self._model_units(x))
        g0 = self.posterior_g0(x_in)[0]
        encoding = self._controller_encoding(x_in) if self.config.use_controller else None
        return self._data_units(self._unroll(g0, encoding)[0])

    def generate(self, code: torch.Tensor) -> torch.Tensor:
        """Rates or activity (B, T, N), data units, from ``g0 = code`` (B, code_dim), with the
        inferred inputs (if any) at their prior mean."""
        if code.ndim != 2 or code.shape[1] != self.config.code_dim:
            raise InvalidArgumentError(
                f"code must have shape (B, {self.config.code_dim}); got {tuple(code.shape)}"
            )
        return self._data_units(self._unroll(code)[0])
