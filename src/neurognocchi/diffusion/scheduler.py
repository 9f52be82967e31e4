"""A stateless diffusion scheduler: forward noising, x0/noise conversions, DDPM and DDIM steps.

The scheduler only knows the noise schedule; it never sees a network. Coefficients are kept as
float64 tensors on the CPU, gathered at the requested steps, and cast to the dtype and device of
the data, so the same scheduler serves float32 training on a GPU and float64 tests on a CPU.

Notation: ``abar_t = prod_{i <= t} (1 - beta_i)`` for 0-based steps ``t = 0 .. n_train_steps - 1``;
``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import operator
from dataclasses import dataclass
from typing import Any

import torch

from neurognocchi.diffusion.schedules import SCHEDULES, make_betas

__all__ = ["Scheduler", "SchedulerConfig"]


@dataclass(frozen=True)
class SchedulerConfig:
    """Settings of a :class:`Scheduler`; saved as JSON next to model weights.

    Parameters
    ----------
    n_train_steps : int
        Number of diffusion steps used in training, ``>= 1``.
    schedule : {"linear", "cosine"}
        Noise schedule, see :mod:`neurognocchi.diffusion.schedules`.
    beta_start, beta_end : float
        End points of the linear schedule, ``0 < beta_start < beta_end < 1`` (checked for every
        schedule so that a saved config is always valid; the cosine schedule ignores them).
    """

    n_train_steps: int = 1000
    schedule: str = "cosine"
    beta_start: float = 1e-4
    beta_end: float = 0.02

    def __post_init__(self) -> None:
        n = self.n_train_steps
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"n_train_steps must be an int >= 1, got {n!r} ({type(n).__name__})")
        if n < 1:
            raise ValueError(f"n_train_steps must be an int >= 1, got {n}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        for name in ("beta_start", "beta_end"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name} must be a float, got {value!r} ({type(value).__name__})")
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name} must be in (0, 1), got {value}")
        if self.beta_end <= self.beta_start:
            raise ValueError(
                f"beta_end must be greater than beta_start={self.beta_start}, got {self.beta_end}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain ``dict``."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Return the config as a JSON string (read it back with :meth:`from_json`)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SchedulerConfig:
        """Build a config from a ``dict`` such as the one :meth:`to_dict` returns.

        Raises
        ------
        ValueError
            If ``data`` has keys that are not fields of the config.
        """
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict, got {type(data).__name__}")
        allowed = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(
                f"data has unknown SchedulerConfig keys {unknown}; allowed: {sorted(allowed)}"
            )
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> SchedulerConfig:
        """Build a config from a JSON string written by :meth:`to_json`."""
        return cls.from_dict(json.loads(text))


def _check_eta(eta: float) -> None:
    """Raise unless ``eta`` is a real number in ``[0, 1]``."""
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real):
        raise TypeError(f"eta must be a real number in [0, 1], got {eta!r} ({type(eta).__name__})")
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be in [0, 1], got {eta}")


class Scheduler:
    """Noise schedule plus the arithmetic of the forward process and of DDPM/DDIM sampling.

    Stateless after construction: every method is a pure function of its arguments.

    Parameters
    ----------
    config : SchedulerConfig, optional
        Schedule settings; ``None`` means ``SchedulerConfig()``.

    Attributes
    ----------
    config : SchedulerConfig
    betas : torch.Tensor, float64, shape (n_train_steps,)
    alphas : torch.Tensor, float64, shape (n_train_steps,)
        ``1 - betas``.
    alphas_cumprod : torch.Tensor, float64, shape (n_train_steps,)
        ``abar``, the cumulative product of ``alphas``; strictly decreasing.
    """

    def __init__(self, config: SchedulerConfig | None = None) -> None:
        if config is None:
            config = SchedulerConfig()
        if not isinstance(config, SchedulerConfig):
            raise TypeError(
                f"config must be a SchedulerConfig or None, got {type(config).__name__}"
            )
        self.config = config
        kwargs = {}
        if config.schedule == "linear":
            kwargs = {"beta_start": config.beta_start, "beta_end": config.beta_end}
        betas = make_betas(config.schedule, config.n_train_steps, **kwargs)
        self.betas = torch.from_numpy(betas)  # (n_train_steps,) float64
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)

    @property
    def n_train_steps(self) -> int:
        """Number of training diffusion steps."""
        return self.config.n_train_steps

    def __repr__(self) -> str:
        return f"Scheduler({self.config!r})"

    # ---- checks and coefficient gathering -------------------------------------------------

    def _check_batch_t(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Check a per-sample step tensor against ``x``; return it as a CPU long tensor."""
        if not isinstance(t, torch.Tensor) or t.dtype.is_floating_point or t.dtype == torch.bool:
            raise TypeError(f"t must be an integer torch.Tensor of shape (B,), got {t!r}")
        if t.shape != (x.shape[0],):
            raise ValueError(f"t must have shape (B,) = ({x.shape[0]},), got {tuple(t.shape)}")
        t = t.to(device="cpu", dtype=torch.long)
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.n_train_steps):
            raise ValueError(
                f"t must hold steps in [0, {self.n_train_steps - 1}], "
                f"got values in [{int(t.min())}, {int(t.max())}]"
            )
        return t

    def _check_step(self, name: str, t: int, *, low: int = 0) -> int:
        """Check a scalar step index in ``[low, n_train_steps - 1]``; return it as an ``int``."""
        if isinstance(t, bool):
            raise TypeError(f"{name} must be an int, got {t!r}")
        try:
            t = operator.index(t)
        except TypeError:
            raise TypeError(f"{name} must be an int, got {t!r} ({type(t).__name__})") from None
        if not low <= t < self.n_train_steps:
            raise ValueError(f"{name} must be in [{low}, {self.n_train_steps - 1}], got {t}")
        return t

    @staticmethod
    def _check_data(name: str, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim < 1:
            raise TypeError(f"{name} must be a torch.Tensor of shape (B, ...), got {x!r}")

    @staticmethod
    def _check_same_shape(name: str, value: torch.Tensor, x: torch.Tensor) -> None:
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
        if value.shape != x.shape:
            raise ValueError(
                f"{name} must have the shape of the data {tuple(x.shape)}, got {tuple(value.shape)}"
            )

    @staticmethod
    def _as_coef(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Reshape float64 ``values`` (B,) to (B, 1, ..., 1) in ``x``'s dtype and device."""
        shape = (values.shape[0],) + (1,) * (x.ndim - 1)
        return values.reshape(shape).to(device=x.device, dtype=x.dtype)

    def _abar(self, t: int) -> float:
        """``abar_t`` as a Python float, with ``abar_{-1} = 1`` (the clean data)."""
        return 1.0 if t < 0 else float(self.alphas_cumprod[t])

    # ---- forward process and conversions --------------------------------------------------

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Noise clean data to step ``t``: ``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise``.

        Parameters
        ----------
        x0 : torch.Tensor, shape (B, ...)
            Clean data.
        noise : torch.Tensor, shape (B, ...)
            Standard normal noise, same shape as ``x0``.
        t : torch.LongTensor, shape (B,)
            Step of each sample, in ``[0, n_train_steps - 1]``.

        Returns
        -------
        x_t : torch.Tensor, shape (B, ...)
            Same dtype and device as ``x0``.
        """
        self._check_data("x0", x0)
        self._check_same_shape("noise", noise, x0)
        abar = self.alphas_cumprod[self._check_batch_t(t, x0)]  # (B,) float64
        signal_coef = self._as_coef(abar.sqrt(), x0)
        noise_coef = self._as_coef((1.0 - abar).sqrt(), x0)
        return signal_coef * x0 + noise_coef * noise

    def predict_x0(
        self, x_t: torch.Tensor, noise_pred: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        """Clean data implied by noise: ``(x_t - sqrt(1 - abar_t) noise_pred) / sqrt(abar_t)``.

        Parameters
        ----------
        x_t : torch.Tensor, shape (B, ...)
            Noisy data at step ``t``.
        noise_pred : torch.Tensor, shape (B, ...)
            Predicted noise.
        t : torch.LongTensor, shape (B,)
            Step of each sample.

        Returns
        -------
        x0 : torch.Tensor, shape (B, ...)
        """
        self._check_data("x_t", x_t)
        self._check_same_shape("noise_pred", noise_pred, x_t)
        abar = self.alphas_cumprod[self._check_batch_t(t, x_t)]  # (B,) float64
        recip_sqrt = self._as_coef(abar.rsqrt(), x_t)
        noise_coef = self._as_coef(((1.0 - abar) / abar).sqrt(), x_t)
        return recip_sqrt * x_t - noise_coef * noise_pred

    def predict_noise(self, x_t: torch.Tensor, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Noise implied by clean data: ``(x_t - sqrt(abar_t) x0) / sqrt(1 - abar_t)``.

        Parameters
        ----------
        x_t : torch.Tensor, shape (B, ...)
            Noisy data at step ``t``.
        x0 : torch.Tensor, shape (B, ...)
            Clean data (or a prediction of it).
        t : torch.LongTensor, shape (B,)
            Step of each sample.

        Returns
        -------
        noise : torch.Tensor, shape (B, ...)
        """
        self._check_data("x_t", x_t)
        self._check_same_shape("x0", x0, x_t)
        abar = self.alphas_cumprod[self._check_batch_t(t, x_t)]  # (B,) float64
        recip_sqrt = self._as_coef((1.0 - abar).rsqrt(), x_t)
        x0_coef = self._as_coef((abar / (1.0 - abar)).sqrt(), x_t)
        return recip_sqrt * x_t - x0_coef * x0

    # ---- sampling ------------------------------------------------------------------------

    def timesteps(self, n_steps: int) -> torch.Tensor:
        """Evenly strided sampling steps, from ``n_train_steps - 1`` down to 0.

        Step ``k`` is ``n_train_steps - 1 - round(k * (n_train_steps - 1) / (n_steps - 1))``
        (rounding half up, in integer arithmetic); the stride is ``>= 1``, so no step repeats.

        Parameters
        ----------
        n_steps : int
            Number of sampling steps, ``1 <= n_steps <= n_train_steps``. With 1 the only step is
            ``n_train_steps - 1``; with more, the last step is 0.

        Returns
        -------
        timesteps : torch.LongTensor, shape (n_steps,)
            Strictly decreasing step indices.
        """
        last = self.n_train_steps - 1
        if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral):
            raise TypeError(f"n_steps must be an int, got {n_steps!r} ({type(n_steps).__name__})")
        if not 1 <= n_steps <= self.n_train_steps:
            raise ValueError(f"n_steps must be in [1, {self.n_train_steps}], got {n_steps}")
        if n_steps == 1:
            return torch.tensor([last], dtype=torch.long)
        k = torch.arange(n_steps, dtype=torch.long)
        offsets = (2 * k * last + (n_steps - 1)) // (2 * (n_steps - 1))  # round(k*last/(n-1))
        return last - offsets

    def _draw_noise(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)

    def ddpm_step(
        self,
        noise_pred: torch.Tensor,
        t: int,
        x_t: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """One ancestral DDPM step ``t -> t - 1`` (Ho et al. 2020).

        Samples ``q(x_{t-1} | x_t, x0)`` with ``x0`` predicted from ``noise_pred``: mean
        ``sqrt(abar_{t-1}) beta_t / (1 - abar_t) x0 + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t)
        x_t`` and variance ``beta_tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t``. At ``t == 0``
        the step returns the predicted ``x0`` and draws no noise.

        Parameters
        ----------
        noise_pred : torch.Tensor, shape (B, ...)
            Predicted noise at step ``t``.
        t : int
            Current step, the same for the whole batch, in ``[0, n_train_steps - 1]``.
        x_t : torch.Tensor, shape (B, ...)
            Current noisy sample.
        generator : torch.Generator, optional
            Source of the added noise (on ``x_t``'s device).

        Returns
        -------
        x_prev : torch.Tensor, shape (B, ...)
            Sample at step ``t - 1`` (the ``x0`` estimate when ``t == 0``).
        """
        t = self._check_step("t", t)
        self._check_data("x_t", x_t)
        t_batch = torch.full((x_t.shape[0],), t, dtype=torch.long)
        x0 = self.predict_x0(x_t, noise_pred, t_batch)
        abar_t, abar_prev = self._abar(t), self._abar(t - 1)
        beta_t = float(self.betas[t])
        x0_coef = math.sqrt(abar_prev) * beta_t / (1.0 - abar_t)
        x_t_coef = math.sqrt(1.0 - beta_t) * (1.0 - abar_prev) / (1.0 - abar_t)
        mean = x0_coef * x0 + x_t_coef * x_t
        if t == 0:
            return mean
        std = math.sqrt((1.0 - abar_prev) / (1.0 - abar_t) * beta_t)
        return mean + std * self._draw_noise(x_t, generator)

    def ddim_step(
        self,
        noise_pred: torch.Tensor,
        t: int,
        t_prev: int,
        x_t: torch.Tensor,
        *,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """One DDIM step ``t -> t_prev`` (Song et al. 2021).

        ``x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) noise_pred + sigma z`` with
        ``sigma = eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev)`` and
        ``z ~ N(0, I)``; ``eta = 0`` is deterministic, ``eta = 1`` matches DDPM's variance.

        Parameters
        ----------
        noise_pred : torch.Tensor, shape (B, ...)
            Predicted noise at step ``t``.
        t : int
            Current step, in ``[0, n_train_steps - 1]``.
        t_prev : int
            Next (smaller) step, in ``[-1, t - 1]``; ``-1`` is the final step to clean data
            (``abar_prev = 1``), which returns the predicted ``x0``.
        x_t : torch.Tensor, shape (B, ...)
            Current noisy sample.
        eta : float
            Stochasticity in ``[0, 1]``.
        generator : torch.Generator, optional
            Source of the added noise when ``sigma > 0``.

        Returns
        -------
        x_prev : torch.Tensor, shape (B, ...)
        """
        t = self._check_step("t", t)
        t_prev = self._check_step("t_prev", t_prev, low=-1)
        if t_prev >= t:
            raise ValueError(f"t_prev must be smaller than t={t}, got {t_prev}")
        _check_eta(eta)
        self._check_data("x_t", x_t)
        t_batch = torch.full((x_t.shape[0],), t, dtype=torch.long)
        x0 = self.predict_x0(x_t, noise_pred, t_batch)
        abar_t, abar_prev = self._abar(t), self._abar(t_prev)
        var = eta**2 * (1.0 - abar_prev) / (1.0 - abar_t) * (1.0 - abar_t / abar_prev)
        # max(., 0) guards against a tiny negative from rounding when eta == 1.
        direction_coef = math.sqrt(max(1.0 - abar_prev - var, 0.0))
        x_prev = math.sqrt(abar_prev) * x0 + direction_coef * noise_pred
        if var == 0.0:
            return x_prev
        return x_prev + math.sqrt(var) * self._draw_noise(x_t, generator)
