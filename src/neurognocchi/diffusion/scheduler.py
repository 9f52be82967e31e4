"""A stateless diffusion scheduler: forward noising, the model's parameterisation, DDPM and DDIM.

The scheduler knows the noise schedule and how to read a network's output (its *prediction
type*: the noise, or the velocity ``v``); it never sees a network. A step takes the raw network
output, splits it into noise and clean-data predictions, optionally clips the clean data, and
returns a named :class:`StepOutput`, as diffusers' ``DDIMScheduler.step`` does. Coefficients are
kept as float64 tensors on the CPU, gathered at the requested steps, and cast to the dtype and
device of the data, so the same scheduler serves float32 training on a GPU and float64 tests on
a CPU.

Notation: ``abar_t = prod_{i <= t} (1 - beta_i)`` for 0-based steps ``t = 0 .. n_train_steps - 1``;
``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise`` (Ho et al. 2020, eq. 4).
"""

from __future__ import annotations

import math

import torch

from neurognocchi._checks import (
    InvalidArgumentError,
    check_batch_steps,
    check_data,
    check_real,
    check_same_shape,
    check_step,
)
from neurognocchi.diffusion.config import PREDICTIONS, SchedulerConfig
from neurognocchi.diffusion.outputs import Prediction, StepOutput
from neurognocchi.diffusion.schedules import make_betas, strided_timesteps

__all__ = ["PREDICTIONS", "Prediction", "Scheduler", "SchedulerConfig", "StepOutput"]


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

    Examples
    --------
    >>> scheduler = Scheduler(SchedulerConfig(n_train_steps=10))
    >>> scheduler.timesteps(4).tolist()
    [9, 6, 3, 0]
    >>> x_t = torch.zeros(2, 3)  # (B, ...)
    >>> step = scheduler.ddim_step(torch.ones(2, 3), 9, 6, x_t)
    >>> step.prev_sample.shape, step.pred_x0.shape
    (torch.Size([2, 3]), torch.Size([2, 3]))
    """

    def __init__(self, config: SchedulerConfig | None = None) -> None:
        if config is None:
            config = SchedulerConfig()
        if not isinstance(config, SchedulerConfig):
            raise InvalidArgumentError(
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

    # ---- coefficient gathering -------------------------------------------------------------

    @staticmethod
    def _as_coef(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Reshape float64 ``values`` (B,) to (B, 1, ..., 1) in ``x``'s dtype and device."""
        shape = (values.shape[0],) + (1,) * (x.ndim - 1)
        return values.reshape(shape).to(device=x.device, dtype=x.dtype)

    def _abar_at(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``abar`` (B,) float64 at the checked steps ``t`` (B,) of data ``x`` (B, ...)."""
        return self.alphas_cumprod[check_batch_steps(t, "t", x, self.n_train_steps)]

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
        check_data(x0, "x0")
        check_same_shape(noise, "noise", x0)
        abar = self._abar_at(t, x0)  # (B,) float64
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
        check_data(x_t, "x_t")
        check_same_shape(noise_pred, "noise_pred", x_t)
        abar = self._abar_at(t, x_t)  # (B,) float64
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
        check_data(x_t, "x_t")
        check_same_shape(x0, "x0", x_t)
        abar = self._abar_at(t, x_t)  # (B,) float64
        recip_sqrt = self._as_coef((1.0 - abar).rsqrt(), x_t)
        x0_coef = self._as_coef((abar / (1.0 - abar)).sqrt(), x_t)
        return recip_sqrt * x_t - x0_coef * x0

    def split_prediction(
        self, model_output: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor
    ) -> Prediction:
        """Read a network output as noise and clean-data predictions, by the prediction type.

        * ``"noise"``: the output is the noise; ``x0`` follows by :meth:`predict_x0`.
        * ``"v"`` (Salimans & Ho 2022): with ``v = model_output``,
          ``noise = sqrt(1 - abar) x_t + sqrt(abar) v`` and ``x0 = sqrt(abar) x_t -
          sqrt(1 - abar) v``, an exact reparameterisation of the noise prediction that stays
          well conditioned at both ends of the schedule, where recovering x0 from a plain noise
          prediction divides its error by ``sqrt(abar)`` (2e-9 at the cosine schedule's last
          step). The noise MSE plus the x0 MSE is then the v-prediction MSE. Its coefficients
          are computed in the data's dtype.

        Parameters
        ----------
        model_output : torch.Tensor, shape (B, ...)
            The network's output at step ``t``.
        x_t : torch.Tensor, shape (B, ...)
            Noisy data at step ``t``.
        t : torch.LongTensor, shape (B,)
            Step of each sample.

        Returns
        -------
        Prediction
            ``(noise, x0)``, each (B, ...).
        """
        if self.config.prediction == "noise":
            return Prediction(model_output, self.predict_x0(x_t, model_output, t))
        check_data(x_t, "x_t")
        check_same_shape(model_output, "model_output", x_t)
        abar = self._as_coef(self._abar_at(t, x_t), x_t)  # (B, 1, ..., 1), x_t's dtype
        noise = (1 - abar).sqrt() * x_t + abar.sqrt() * model_output
        x0 = abar.sqrt() * x_t - (1 - abar).sqrt() * model_output
        return Prediction(noise, x0)

    # ---- sampling ------------------------------------------------------------------------

    def timesteps(self, n_steps: int) -> torch.Tensor:
        """Evenly strided sampling steps (n_steps,), from ``n_train_steps - 1`` down to 0:
        :func:`~neurognocchi.diffusion.schedules.strided_timesteps` of this schedule."""
        return strided_timesteps(self.n_train_steps, n_steps)

    def _draw_noise(
        self, x: torch.Tensor, generator: torch.Generator | None, given: torch.Tensor | None
    ) -> torch.Tensor:
        """``given`` (checked, in ``x``'s dtype and device) when not None, else a fresh draw."""
        if given is None:
            return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        check_same_shape(given, "variance_noise", x)
        return given.to(device=x.device, dtype=x.dtype)

    def _clip(
        self, pred: Prediction, x_t: torch.Tensor, t: torch.Tensor, clip_x0: float | None
    ) -> Prediction:
        """``pred`` with ``x0`` clipped to ``[-clip_x0, clip_x0]`` (``config.clip_x0`` if None).

        Clipping re-derives the noise from the clipped ``x0`` (so that the pair still explains
        ``x_t``) and reads ``x0`` back from that noise, as every release so far has done; the
        round trip only rounds, and keeping it keeps samples bit-identical.
        """
        bound = self.config.clip_x0 if clip_x0 is None else check_real(clip_x0, "clip_x0", low=0)
        if bound is None:
            return pred
        noise = self.predict_noise(x_t, pred.x0.clamp(-bound, bound), t)
        return Prediction(noise, self.predict_x0(x_t, noise, t))

    def ddpm_step(
        self,
        model_output: torch.Tensor,
        t: int,
        x_t: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        clip_x0: float | None = None,
        variance_noise: torch.Tensor | None = None,
    ) -> StepOutput:
        """One ancestral DDPM step ``t -> t - 1`` (Ho et al. 2020).

        Samples ``q(x_{t-1} | x_t, x0)`` with ``x0`` predicted from the model output: mean
        ``sqrt(abar_{t-1}) beta_t / (1 - abar_t) x0 + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t)
        x_t`` and variance ``beta_tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t``. At ``t == 0``
        the step returns the predicted ``x0`` and draws no noise.

        Parameters
        ----------
        model_output : torch.Tensor, shape (B, ...)
            The network's output at step ``t`` (noise or v, see ``config.prediction``).
        t : int
            Current step, the same for the whole batch, in ``[0, n_train_steps - 1]``.
        x_t : torch.Tensor, shape (B, ...)
            Current noisy sample.
        generator : torch.Generator, optional
            Source of the added noise (on ``x_t``'s device).
        clip_x0 : float, optional
            Clip the clean-data prediction to ``[-clip_x0, clip_x0]``; None uses
            ``config.clip_x0`` (itself None by default: no clipping).
        variance_noise : torch.Tensor, shape (B, ...), optional
            The N(0, I) draw to add, instead of one from ``generator`` (e.g. noise shared
            between samples, see :func:`~neurognocchi.diffusion.sample`); unused at ``t == 0``.
            Named as in diffusers' ``DDIMScheduler.step``.

        Returns
        -------
        StepOutput
            ``prev_sample`` at step ``t - 1`` (the ``x0`` estimate when ``t == 0``) and the
            ``pred_x0`` the step used, each (B, ...).
        """
        t = check_step(t, "t", self.n_train_steps)
        check_data(x_t, "x_t")
        t_batch = torch.full((x_t.shape[0],), t, dtype=torch.long)  # (B,)
        # 1. Noise and x0 predictions from the model output (config.prediction); x0 by eq. 15.
        pred = self.split_prediction(model_output, x_t, t_batch)
        # 2. Clip x0 (when a bound is set).
        _, x0 = self._clip(pred, x_t, t_batch, clip_x0)
        # 3. Coefficients of the posterior mean mu_tilde(x_t, x0) (Ho et al. 2020, eq. 7; with
        #    x0 from eq. 15 it equals the noise form mu_theta of eq. 11).
        abar_t, abar_prev = self._abar(t), self._abar(t - 1)
        beta_t = float(self.betas[t])
        x0_coef = math.sqrt(abar_prev) * beta_t / (1.0 - abar_t)
        x_t_coef = math.sqrt(1.0 - beta_t) * (1.0 - abar_prev) / (1.0 - abar_t)
        # 4. The posterior mean; at t = 0 it is the sample (no noise is added at the last step).
        mean = x0_coef * x0 + x_t_coef * x_t
        if t == 0:
            return StepOutput(mean, x0)
        # 5. Add noise of the posterior variance beta_tilde_t (eqs. 6-7).
        std = math.sqrt((1.0 - abar_prev) / (1.0 - abar_t) * beta_t)
        return StepOutput(mean + std * self._draw_noise(x_t, generator, variance_noise), x0)

    def ddim_step(
        self,
        model_output: torch.Tensor,
        t: int,
        t_prev: int,
        x_t: torch.Tensor,
        *,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
        clip_x0: float | None = None,
        variance_noise: torch.Tensor | None = None,
    ) -> StepOutput:
        """One DDIM step ``t -> t_prev`` (Song et al. 2021).

        ``x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) noise + sigma z`` with
        ``sigma = eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev)`` and
        ``z ~ N(0, I)``; ``eta = 0`` is deterministic, ``eta = 1`` matches DDPM's variance.

        Parameters
        ----------
        model_output : torch.Tensor, shape (B, ...)
            The network's output at step ``t`` (noise or v, see ``config.prediction``).
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
        clip_x0 : float, optional
            As for :meth:`ddpm_step`.
        variance_noise : torch.Tensor, shape (B, ...), optional
            The draw ``z`` to use instead of one from ``generator``; unused when ``sigma == 0``.

        Returns
        -------
        StepOutput
            ``prev_sample`` at step ``t_prev`` and the ``pred_x0`` the step used.
        """
        t = check_step(t, "t", self.n_train_steps)
        t_prev = check_step(t_prev, "t_prev", self.n_train_steps, low=-1)
        if t_prev >= t:
            raise InvalidArgumentError(f"t_prev must be smaller than t={t}, got {t_prev}")
        check_real(eta, "eta", low=0.0, high=1.0)
        check_data(x_t, "x_t")
        t_batch = torch.full((x_t.shape[0],), t, dtype=torch.long)  # (B,)
        # 1. Noise and x0 predictions from the model output (config.prediction); x0 is the
        #    "predicted x0" of Song et al. 2021, eq. 12.
        pred = self.split_prediction(model_output, x_t, t_batch)
        # 2. Clip x0 (when a bound is set).
        noise, x0 = self._clip(pred, x_t, t_batch, clip_x0)
        # 3. sigma^2 of the added noise (Song et al. 2021, eq. 16).
        abar_t, abar_prev = self._abar(t), self._abar(t_prev)
        var = eta**2 * (1.0 - abar_prev) / (1.0 - abar_t) * (1.0 - abar_t / abar_prev)
        # 4. The "direction pointing to x_t" coefficient of eq. 12; max(., 0) guards against a
        #    tiny negative from rounding when eta == 1.
        direction_coef = math.sqrt(max(1.0 - abar_prev - var, 0.0))
        # 5. x_prev without the random term (eq. 12).
        x_prev = math.sqrt(abar_prev) * x0 + direction_coef * noise
        if var == 0.0:
            return StepOutput(x_prev, x0)
        # 6. Add the random term sigma z (eq. 12).
        z = self._draw_noise(x_t, generator, variance_noise)
        return StepOutput(x_prev + math.sqrt(var) * z, x0)
