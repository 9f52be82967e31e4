"""GNOCCHI: an auxiliary encoder, a code-conditioned denoiser and the three-part loss.

The model sees activity in data units and normalises it per neuron with its
:class:`~neurognocchi.nn.NeuronScaler` (statistics set once from training trials by
:meth:`GnocchiModel.set_statistics`); everything it returns is in data units again. The
denoiser's output is read as a v-prediction; the conversion to noise and clean-data predictions,
and the clipping of the latter while sampling, belong to the
:class:`~neurognocchi.diffusion.Scheduler`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from neurognocchi._checks import InvalidArgumentError
from neurognocchi.diffusion import Prediction, Scheduler, SchedulerConfig, sample
from neurognocchi.models.base import ConfiguredModel
from neurognocchi.models.config import GnocchiConfig
from neurognocchi.models.priors import mmd_to_standard_normal
from neurognocchi.nn import ConvTrialEncoder, GRUTrialEncoder, NeuronScaler, UNet1dDenoiser

__all__ = ["GnocchiConfig", "GnocchiModel", "build_encoder"]


def build_encoder(config: GnocchiConfig) -> nn.Module:
    """The auxiliary encoder named by ``config.encoder``: "conv" (``encoder_dim`` wide,
    ``encoder_layers`` deep) or "gru" (bidirectional, ``encoder_dim`` per direction); the
    config checked ``encoder`` when it was built."""
    if config.encoder == "conv":
        return ConvTrialEncoder(
            config.n_neurons,
            code_dim=config.code_dim,
            channels=config.encoder_dim,
            n_layers=config.encoder_layers,
            pooling=config.encoder_pooling,
            n_time=config.n_time,
        )
    return GRUTrialEncoder(config.n_neurons, code_dim=config.code_dim, hidden=config.encoder_dim)


class GnocchiModel(ConfiguredModel):
    """Encoder + denoiser + scheduler, with the training loss and generation.

    Implements :class:`~neurognocchi.models.base.DiffusionTrialModel`.

    Parameters
    ----------
    config : GnocchiConfig
    """

    def __init__(self, config: GnocchiConfig):
        super().__init__()
        self.config = config
        self.encoder = build_encoder(config)
        n_channels = config.n_neurons + config.n_behavior  # what the denoiser generates
        self.denoiser = UNet1dDenoiser(
            n_channels,
            code_dim=config.code_dim,
            channels=config.channels,
            channel_mults=config.channel_mults,
            n_res_blocks=config.n_res_blocks,
            dropout=config.dropout,
            n_time_channels=config.time_channels,
        )
        # The denoiser's output is a v-prediction: see Scheduler.split_prediction for why.
        self.scheduler = Scheduler(
            SchedulerConfig(
                n_train_steps=config.n_train_steps, schedule=config.schedule, prediction="v"
            )
        )
        self.scaler = NeuronScaler(n_channels)
        self.register_buffer("x0_bound", torch.tensor(10.0))
        # Affine map between the encoder's raw codes and the codes users see (identity until
        # set_code_whitening): code = whitening @ (raw - mean); raw = coloring @ code + mean.
        self.register_buffer("code_mean", torch.zeros(config.code_dim))
        self.register_buffer("code_whitening", torch.eye(config.code_dim))
        self.register_buffer("code_coloring", torch.eye(config.code_dim))
        if config.code_dropout > 0:
            # The raw code that stands for "no code" (classifier-free guidance).
            self.null_code = nn.Parameter(torch.zeros(config.code_dim))

    # ------------------------------------------------------------------ TrialModel members
    @property
    def n_train_steps(self) -> int:
        """Diffusion steps of training (the most a sampler may use)."""
        return self.config.n_train_steps

    @property
    def bin_size_s(self) -> float | None:
        """Bin width in seconds of the fitted activity (None when unknown)."""
        return self.config.bin_size_s

    @property
    def behavior_names(self) -> tuple[str, ...]:
        """Behaviour channels generated after the activity's (empty: activity only)."""
        return self.config.behavior_names

    def prior_codes(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """``n`` codes (n, code_dim) from N(0, I), the prior in the space :meth:`encode`
        returns (whitened codes), drawn on the CPU from ``generator``."""
        return torch.randn((n, self.code_dim), generator=generator)

    # ------------------------------------------------------------------ normalisation
    @torch.no_grad()
    def set_statistics(self, stats: Mapping[str, Any]) -> None:
        """Store per-neuron mean and s.d. from :func:`~neurognocchi.data.stats.neuron_statistics`
        of the training trials (which reads memory-mapped data a block at a time).

        Silent neurons (s.d. 0) get s.d. 1 so normalising them is the identity shift. Also
        stores ``x0_bound``, 1.5 times the largest normalised value, used to clip the clean-data
        estimate while sampling.
        """
        self.scaler.load_statistics(stats)
        self.x0_bound.copy_(1.5 * self.scaler.max_abs_normalized(stats).max().float())

    @torch.no_grad()
    def set_code_whitening(self, raw_codes: torch.Tensor) -> None:
        """Make :meth:`encode` return whitened codes: zero mean and identity covariance over
        ``raw_codes`` (n, code_dim), the encoder's outputs on the training trials.

        The map is symmetric (ZCA) whitening, the smallest rotation-free change of the raw
        codes; eigenvalues below 1e-6 of the largest are floored so that a collapsed direction
        is not blown up. Being affine, it changes no least-squares read-out of the codes.
        """
        raw = raw_codes.double()
        mean = raw.mean(dim=0)
        centred = raw - mean
        cov = centred.T @ centred / max(len(raw) - 1, 1)
        eigenvalues, vectors = torch.linalg.eigh(cov)
        floor = max(float(eigenvalues.max()) * 1e-6, 1e-12)
        root = eigenvalues.clamp_min(floor).sqrt()
        self.code_mean.copy_(mean.float())
        self.code_whitening.copy_((vectors / root @ vectors.T).float())
        self.code_coloring.copy_((vectors * root @ vectors.T).float())

    # ------------------------------------------------------------------ model API
    def raw_code(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's output (B, code_dim) for trials x (B, T, N) in data units: what the
        denoiser is conditioned on and the MMD term sees. Only the N activity channels are
        read (x may hold the behaviour channels after them; they never reach the encoder)."""
        return self.encoder(self.scaler.leading(x[..., : self.config.n_neurons]))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (B, code_dim) of trials x (B, T, N) in data units (whitened raw codes)."""
        return (self.raw_code(x) - self.code_mean) @ self.code_whitening.T

    def predict(self, x_t: torch.Tensor, t: torch.Tensor, code: torch.Tensor) -> Prediction:
        """Noise and clean-data predictions (each (B, T, N), normalised units) at steps t (B,)
        for raw codes ``code`` (B, L).

        The denoiser's output is read as a v-prediction (Salimans & Ho 2022), an exact
        reparameterisation of the noise prediction ``eps_theta(x_t, t, c)``; the conversion is
        :meth:`Scheduler.split_prediction <neurognocchi.diffusion.Scheduler.split_prediction>`.
        With it, ``score + reconstruction`` is the v-prediction MSE.
        """
        return self.scheduler.split_prediction(self.denoiser(x_t, t, code), x_t, t)

    def loss(self, x: torch.Tensor, *, generator: torch.Generator | None = None, step: int = 0):
        """Training loss for a batch x (B, T, N + n_behavior) in data units (activity, then
        the behaviour channels a joint model generates too; the encoder reads the activity).

        Returns a dict with ``loss`` (the weighted total) and its parts ``score`` (noise MSE),
        ``reconstruction`` (MSE of the x0 implied by the noise prediction) and ``mmd``
        (unbiased MMD^2 between the batch's codes and N(0, I)), all in normalised units.
        """
        del step  # GNOCCHI's loss does not change during training
        x0 = self.scaler(x)  # (B, T, N + n_behavior)
        code = self.encoder(x0[..., : self.config.n_neurons])  # (B, L) raw codes: activity only
        t = torch.randint(
            0, self.config.n_train_steps, (x0.shape[0],), generator=generator, device="cpu"
        ).to(x0.device)
        noise = torch.randn(x0.shape, generator=generator, device="cpu").to(x0.device)
        x_t = self.scheduler.add_noise(x0, noise, t)  # (B, T, N)
        noise_pred, x0_pred = self.predict(x_t, t, self._training_code(code, generator))
        score = (noise_pred - noise).pow(2).mean()
        reconstruction = (x0_pred - x0).pow(2).mean()
        mmd = mmd_to_standard_normal(code, generator=generator, bandwidth=self.config.mmd_bandwidth)
        total = score + self.config.rec_weight * reconstruction + self.config.mmd_weight * mmd
        return {"loss": total, "score": score, "reconstruction": reconstruction, "mmd": mmd}

    def _training_code(self, code: torch.Tensor, generator: torch.Generator | None):
        """The code (B, L) the denoiser is trained on: with ``code_noise``, plus Gaussian
        noise scaled by the batch's code s.d. (so that the denoiser cannot rely on code
        details finer than that); with ``code_dropout``, replaced by the null code at that
        rate (so that the same network also learns the unconditional model)."""
        if self.config.code_noise > 0:
            scale = self.config.code_noise * code.detach().std(dim=0)  # (L,)
            draw = torch.randn(code.shape, generator=generator, device="cpu").to(code)
            code = code + scale * draw
        if self.config.code_dropout > 0:
            drop = torch.rand(len(code), generator=generator, device="cpu").to(code.device)
            code = torch.where((drop < self.config.code_dropout)[:, None], self.null_code, code)
        return code

    def _guided(self, raw: torch.Tensor, guidance: float):
        """The denoiser as the sampler calls it: conditioned on raw codes (B, L), or with
        classifier-free guidance ``v_null + guidance (v_code - v_null)`` (Ho & Salimans
        2022; linear in the output, so the same for v as for noise predictions)."""
        if guidance == 1.0:
            return lambda x_t, t: self.denoiser(x_t, t, raw)
        if not hasattr(self, "null_code"):
            raise InvalidArgumentError(
                f"guidance {guidance} needs a model fitted with code_dropout > 0 (it has none)"
            )

        def denoise(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            null = self.null_code.expand_as(raw)  # (B, L)
            both = self.denoiser(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([raw, null]))
            v_code, v_null = both.chunk(2)  # each (B, T, N)
            return v_null + guidance * (v_code - v_null)

        return denoise

    @torch.no_grad()
    def generate(
        self,
        code: torch.Tensor,
        *,
        n_steps: int | None = None,
        method: str | None = None,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
        progress: bool = False,
        noise_index: torch.Tensor | None = None,
        n_noise: int | None = None,
        guidance: float = 1.0,
    ) -> torch.Tensor:
        """Denoise from noise conditioned on ``code`` (B, L), a code as :meth:`encode` returns
        it; returns (B, T, N + n_behavior) in data units (the behaviour channels last).
        ``guidance`` != 1 applies classifier-free
        guidance (a model fitted with ``code_dropout``).

        ``method`` is one of :data:`~neurognocchi.diffusion.METHODS` ("ddim", "ddpm",
        "dpm-solver++", "unipc"), with ``n_steps`` and ``eta`` as
        :func:`~neurognocchi.diffusion.sample` takes them (and with its defaults). At each
        step the clean-data prediction is clipped to ``+-x0_bound`` (1.5 times the largest
        normalised training value) before the sampler uses it, a guard against rare
        excursions of an imperfect model. ``noise_index`` (B,) and ``n_noise`` share noise
        between rows as :func:`~neurognocchi.diffusion.sample` describes.
        """
        shape = (code.shape[0], self.config.n_time, self.config.n_neurons + self.config.n_behavior)
        raw = code @ self.code_coloring.T + self.code_mean  # (B, L): the denoiser reads raw codes
        x0 = sample(
            self._guided(raw, guidance),
            self.scheduler,
            shape,
            n_steps=n_steps,
            method=method,
            eta=eta,
            generator=generator,
            device=code.device,
            progress=progress,
            clip_x0=float(self.x0_bound),
            noise_index=noise_index,
            n_noise=n_noise,
        )
        return self.scaler.inverse(x0)
