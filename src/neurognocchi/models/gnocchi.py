"""GNOCCHI: an auxiliary encoder, a code-conditioned denoiser and the three-part loss.

The model sees activity in data units and normalises it per neuron with statistics stored as
buffers (set once from training trials by :meth:`GnocchiModel.set_statistics`, or
:meth:`~GnocchiModel.set_normalization` from an array); everything it returns is in data units
again.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neurognocchi.data.memmap import neuron_statistics
from neurognocchi.diffusion import Scheduler, SchedulerConfig, sample
from neurognocchi.models.config import JsonConfig
from neurognocchi.models.priors import mmd_to_standard_normal
from neurognocchi.nn import ConvTrialEncoder, GRUTrialEncoder, UNet1dDenoiser


@dataclass(frozen=True)
class GnocchiConfig(JsonConfig):
    """Architecture and loss settings of a GNOCCHI model (saved as JSON next to the weights).

    ``rec_weight`` and ``mmd_weight`` weigh the reconstruction and MMD terms against the noise
    MSE (the score term).
    """

    n_neurons: int
    n_time: int
    code_dim: int = 16
    channels: int = 64
    channel_mults: tuple[int, ...] = (1, 2, 2)
    n_res_blocks: int = 1
    encoder: str = "conv"
    encoder_channels: int = 64
    encoder_layers: int = 3
    dropout: float = 0.0
    schedule: str = "cosine"
    n_train_steps: int = 1000
    rec_weight: float = 4.0
    mmd_weight: float = 0.01

    def __post_init__(self):
        for name in ("n_neurons", "n_time", "code_dim", "n_train_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        for name in ("rec_weight", "mmd_weight", "dropout"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)!r}")
        object.__setattr__(self, "channel_mults", tuple(int(m) for m in self.channel_mults))


def build_encoder(config: GnocchiConfig) -> nn.Module:
    """The auxiliary encoder named by ``config.encoder``: "conv" (``encoder_channels`` wide,
    ``encoder_layers`` deep) or "gru" (bidirectional, ``encoder_channels`` per direction)."""
    if config.encoder == "conv":
        return ConvTrialEncoder(
            config.n_neurons,
            code_dim=config.code_dim,
            channels=config.encoder_channels,
            n_layers=config.encoder_layers,
        )
    if config.encoder == "gru":
        return GRUTrialEncoder(
            config.n_neurons, code_dim=config.code_dim, hidden=config.encoder_channels
        )
    raise ValueError(f"encoder must be 'conv' or 'gru'; got {config.encoder!r}")


class GnocchiModel(nn.Module):
    """Encoder + denoiser + scheduler, with the training loss and generation.

    Parameters
    ----------
    config : GnocchiConfig
    """

    def __init__(self, config: GnocchiConfig):
        super().__init__()
        self.config = config
        self.encoder = build_encoder(config)
        self.denoiser = UNet1dDenoiser(
            config.n_neurons,
            code_dim=config.code_dim,
            channels=config.channels,
            channel_mults=config.channel_mults,
            n_res_blocks=config.n_res_blocks,
            dropout=config.dropout,
        )
        self.scheduler = Scheduler(
            SchedulerConfig(n_train_steps=config.n_train_steps, schedule=config.schedule)
        )
        self.register_buffer("alphas_cumprod", self.scheduler.alphas_cumprod.float())
        self.register_buffer("mean", torch.zeros(config.n_neurons))
        self.register_buffer("std", torch.ones(config.n_neurons))
        self.register_buffer("x0_bound", torch.tensor(10.0))
        # Affine map between the encoder's raw codes and the codes users see (identity until
        # set_code_whitening): code = whitening @ (raw - mean); raw = coloring @ code + mean.
        self.register_buffer("code_mean", torch.zeros(config.code_dim))
        self.register_buffer("code_whitening", torch.eye(config.code_dim))
        self.register_buffer("code_coloring", torch.eye(config.code_dim))

    # ------------------------------------------------------------------ normalisation
    @torch.no_grad()
    def set_normalization(self, activity: torch.Tensor) -> None:
        """Store the statistics of ``activity`` (n_trials, n_time, n_neurons), data units;
        see :meth:`set_statistics`."""
        self.set_statistics(neuron_statistics(activity.detach().cpu().numpy()))

    @torch.no_grad()
    def set_statistics(self, stats: dict) -> None:
        """Store per-neuron mean and s.d. from :func:`~neurognocchi.data.memmap.neuron_statistics`
        of the training trials (which reads memory-mapped data a block at a time).

        Silent neurons (s.d. 0) get s.d. 1 so normalising them is the identity shift. Also
        stores ``x0_bound``, 1.5 times the largest normalised value, used to clip the clean-data
        estimate while sampling.
        """
        mean = torch.as_tensor(stats["mean"], dtype=torch.float64)
        std = torch.as_tensor(stats["std"], dtype=torch.float64)
        std = torch.where(std > 1e-8, std, torch.ones_like(std))
        low, high = (torch.as_tensor(stats[k], dtype=torch.float64) for k in ("min", "max"))
        extreme = torch.maximum((high - mean).abs(), (low - mean).abs()) / std
        self.mean.copy_(mean.float())
        self.std.copy_(std.float())
        self.x0_bound.copy_(1.5 * extreme.max().float())

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean

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
        denoiser is conditioned on and the MMD term sees."""
        return self.encoder(self.normalize(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (B, code_dim) of trials x (B, T, N) in data units (whitened raw codes)."""
        return (self.raw_code(x) - self.code_mean) @ self.code_whitening.T

    def predict(self, x_t: torch.Tensor, t: torch.Tensor, code: torch.Tensor):
        """Noise and clean-data predictions (each (B, T, N), normalised units) at steps t (B,).

        The denoiser's output ``F`` is read as a v-prediction (Salimans & Ho 2022):
        ``noise = sqrt(1 - abar) x_t + sqrt(abar) F`` and
        ``x0 = sqrt(abar) x_t - sqrt(1 - abar) F``.
        This is an exact reparameterisation of the noise prediction ``eps_theta(x_t, t, c)``
        that stays well conditioned at both ends of the schedule, where recovering x0 from a
        plain noise prediction divides its error by ``sqrt(abar)`` (2e-9 at the cosine
        schedule's last step). With it, ``score + reconstruction`` is the v-prediction MSE.
        """
        abar = self.alphas_cumprod[t].view(-1, 1, 1)  # (B, 1, 1)
        out = self.denoiser(x_t, t, code)  # (B, T, N)
        noise_pred = (1 - abar).sqrt() * x_t + abar.sqrt() * out
        x0_pred = abar.sqrt() * x_t - (1 - abar).sqrt() * out
        return noise_pred, x0_pred

    def loss(self, x: torch.Tensor, *, generator: torch.Generator | None = None, step: int = 0):
        """Training loss for a batch x (B, T, N) in data units.

        Returns a dict with ``loss`` (the weighted total) and its parts ``score`` (noise MSE),
        ``reconstruction`` (MSE of the x0 implied by the noise prediction) and ``mmd``
        (unbiased MMD^2 between the batch's codes and N(0, I)), all in normalised units.
        """
        del step  # GNOCCHI's loss does not change during training
        x0 = self.normalize(x)  # (B, T, N)
        code = self.encoder(x0)  # (B, L) raw codes
        t = torch.randint(
            0, self.config.n_train_steps, (x0.shape[0],), generator=generator, device="cpu"
        ).to(x0.device)
        noise = torch.randn(x0.shape, generator=generator, device="cpu").to(x0.device)
        x_t = self.scheduler.add_noise(x0, noise, t)
        noise_pred, x0_pred = self.predict(x_t, t, code)
        score = (noise_pred - noise).pow(2).mean()
        reconstruction = (x0_pred - x0).pow(2).mean()
        mmd = mmd_to_standard_normal(code, generator=generator)
        total = score + self.config.rec_weight * reconstruction + self.config.mmd_weight * mmd
        return {"loss": total, "score": score, "reconstruction": reconstruction, "mmd": mmd}

    @torch.no_grad()
    def generate(
        self,
        code: torch.Tensor,
        *,
        n_steps: int = 50,
        method: str = "ddim",
        eta: float = 0.0,
        generator: torch.Generator | None = None,
        progress: bool = False,
    ) -> torch.Tensor:
        """Denoise from noise conditioned on ``code`` (B, L), a code as :meth:`encode` returns
        it; returns (B, T, N) in data units.

        At each step the clean-data prediction is clipped to ``+-x0_bound`` (1.5 times the
        largest normalised training value) before the sampler uses it, a guard against rare
        excursions of an imperfect model.
        """
        shape = (code.shape[0], self.config.n_time, self.config.n_neurons)
        code = code @ self.code_coloring.T + self.code_mean  # the denoiser reads raw codes

        def clipped_noise_prediction(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            _, x0 = self.predict(x_t, t, code)
            x0 = x0.clamp(-self.x0_bound, self.x0_bound)
            return self.scheduler.predict_noise(x_t, x0, t)

        x0 = sample(
            clipped_noise_prediction,
            self.scheduler,
            shape,
            n_steps=n_steps,
            method=method,
            eta=eta,
            generator=generator,
            device=code.device,
            progress=progress,
        )
        return self.denormalize(x0)
