"""Few-step ODE solvers from diffusers behind :func:`~neurognocchi.diffusion.sample`.

``"dpm-solver++"`` (Lu et al. 2022, multistep, second order) and ``"unipc"`` (Zhao et al. 2023)
integrate the probability-flow ODE of a trained model in far fewer steps than DDIM for the same
accuracy. They are diffusers' ``DPMSolverMultistepScheduler`` and ``UniPCMultistepScheduler``,
built afresh for every call (they keep the previous model outputs, so they are stateful) from our
:class:`~neurognocchi.diffusion.scheduler.Scheduler`: the same betas, number of training steps
and prediction type; diffusers is imported only when one is used.

What differs from the hand-written samplers:

* **Steps.** diffusers' ``"linspace"`` spacing visits ``n_steps`` model steps, the first
  ``n_steps`` of ``strided_timesteps(n_train_steps, n_steps + 1)`` (up to 1 where a step rounds
  a tie: diffusers rounds half to even); the last one is followed by a jump to the clean data,
  where DDIM spends its last evaluation at step 0. At ``n_steps == n_train_steps`` that grid
  would repeat a step (then the solvers return NaN), so every step is visited instead
  (diffusers' ``"trailing"`` spacing gives exactly that).
* **Clipping.** The fixed bound ``clip_x0`` is applied model-side by
  :func:`clip_model_output`, which hands the solver the output whose clean-data prediction is
  the clipped one (diffusers' own ``thresholding`` is dynamic and stays off).
* **Precision.** diffusers keeps its coefficients in float32 and computes DPM-Solver++ updates
  in float32, whatever the dtype of the samples.
* **Randomness.** Both solvers are deterministic given the starting noise ``x_T``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from neurognocchi._checks import InvalidArgumentError, check_choice, check_int, check_real
from neurognocchi.diffusion.config import PREDICTIONS
from neurognocchi.diffusion.scheduler import Scheduler

__all__ = ["SOLVERS", "clip_model_output", "make_solver", "solve"]

#: Methods of :func:`~neurognocchi.diffusion.sample` that run a diffusers solver.
SOLVERS = ("dpm-solver++", "unipc")

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def clip_model_output(
    model_output: torch.Tensor, x_t: torch.Tensor, abar: float, bound: float, *, prediction: str
) -> torch.Tensor:
    """The model output, changed so that the clean data it implies is clipped to ``+-bound``.

    With ``a = sqrt(abar)`` and ``s = sqrt(1 - abar)``, ``x_t = a x0 + s noise`` and
    ``v = a noise - s x0`` (Salimans & Ho 2022) give ``x0 = a x_t - s v`` and
    ``noise = s x_t + a v``; for a noise prediction, ``x0 = (x_t - s noise) / a``. Adding
    ``(x0 - clip(x0)) / s`` to ``v`` (or ``a / s`` times it to the noise) lowers the implied
    ``x0`` by exactly the clipped excess, so the result is the v (or noise) of the clipped
    ``x0`` for the same ``x_t``, and equals ``model_output`` bit for bit where nothing is
    clipped.

    Parameters
    ----------
    model_output : torch.Tensor, shape (B, ...)
        The network's output at the step: v or the noise, as ``prediction`` says.
    x_t : torch.Tensor, shape (B, ...)
        The noisy sample the output was computed from.
    abar : float
        ``abar_t`` of the step, in ``(0, 1)``.
    bound : float
        Clip the implied clean data to ``[-bound, bound]``, ``bound >= 0``.
    prediction : {"noise", "v"}
        What ``model_output`` is.

    Returns
    -------
    torch.Tensor, shape (B, ...)
        The output of the same kind whose implied ``x0`` is the clipped one.

    Examples
    --------
    >>> x_t, v = torch.tensor([[0.0, 3.0]]), torch.tensor([[-4.0, 0.0]])
    >>> out = clip_model_output(v, x_t, 0.36, 1.0, prediction="v")  # x0 = [3.2, 1.8]
    >>> (0.6 * x_t - 0.8 * out).round(decimals=5)  # x0 implied by the new output
    tensor([[1., 1.]])
    """
    check_choice(prediction, "prediction", PREDICTIONS)
    abar = check_real(abar, "abar", low=0.0, high=1.0, low_open=True, high_open=True)
    bound = check_real(bound, "bound", low=0.0)
    a, s = math.sqrt(abar), math.sqrt(1.0 - abar)
    if prediction == "v":
        x0 = a * x_t - s * model_output  # (B, ...)
        return model_output + (x0 - x0.clamp(-bound, bound)) / s
    x0 = (x_t - s * model_output) / a  # (B, ...)
    return model_output + (a / s) * (x0 - x0.clamp(-bound, bound))


def make_solver(scheduler: Scheduler, method: str, n_steps: int, device: torch.device | str):
    """A fresh diffusers scheduler for ``method``, with its ``n_steps`` timesteps set.

    Parameters
    ----------
    scheduler : Scheduler
        The schedule and prediction type the model was trained with.
    method : {"dpm-solver++", "unipc"}
        Which solver.
    n_steps : int
        Model evaluations, in ``[1, scheduler.n_train_steps]``.
    device : torch.device or str
        Where the timesteps live (that of the samples).

    Returns
    -------
    diffusers.SchedulerMixin
        ``DPMSolverMultistepScheduler`` or ``UniPCMultistepScheduler``; its ``timesteps`` (a
        LongTensor ``(n_steps,)``, descending) are the steps to evaluate the model at.
    """
    from diffusers import DPMSolverMultistepScheduler, UniPCMultistepScheduler

    check_choice(method, "method", SOLVERS)
    n_train = scheduler.n_train_steps
    n_steps = check_int(n_steps, "n_steps")
    if not 1 <= n_steps <= n_train:
        raise InvalidArgumentError(f"n_steps must be in [1, {n_train}], got {n_steps}")
    settings = {
        "num_train_timesteps": n_train,
        "trained_betas": scheduler.betas.numpy(),
        "prediction_type": "v_prediction" if scheduler.config.prediction == "v" else "epsilon",
        # "linspace" would repeat a step at n_steps == n_train; "trailing" then gives every step.
        "timestep_spacing": "linspace" if n_steps < n_train else "trailing",
        "thresholding": False,
        "solver_order": 2,
        "lower_order_final": True,
        "final_sigmas_type": "zero",  # the last step lands on the clean data, as DDIM's does
    }
    if method == "dpm-solver++":
        solver = DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", **settings)
    else:
        solver = UniPCMultistepScheduler(predict_x0=True, **settings)
    solver.set_timesteps(n_steps, device=device)
    return solver


@torch.no_grad()
def solve(
    model_fn: ModelFn,
    scheduler: Scheduler,
    x_T: torch.Tensor,
    *,
    method: str,
    n_steps: int,
    clip_x0: float | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Integrate from ``x_T`` to clean data with a diffusers solver (see the module docstring).

    Parameters
    ----------
    model_fn : callable
        ``model_fn(x_t, t_batch) -> model_output`` as for
        :func:`~neurognocchi.diffusion.sample`, each (B, ...); ``t_batch`` is a LongTensor (B,).
    scheduler : Scheduler
        The schedule and prediction type the model was trained with.
    x_T : torch.Tensor, shape (B, ...)
        Starting noise; its device and dtype are those of the result.
    method : {"dpm-solver++", "unipc"}
        Which solver.
    n_steps : int
        Model evaluations, in ``[1, scheduler.n_train_steps]``.
    clip_x0 : float, optional
        Clip every clean-data prediction to ``[-clip_x0, clip_x0]`` (by
        :func:`clip_model_output`); None uses ``scheduler.config.clip_x0``.
    progress : bool
        Show a tqdm progress bar (only when stderr is a terminal).

    Returns
    -------
    x0 : torch.Tensor, shape (B, ...)
    """
    bound = scheduler.config.clip_x0 if clip_x0 is None else check_real(clip_x0, "clip_x0", low=0)
    solver = make_solver(scheduler, method, n_steps, x_T.device)
    x_t, steps = x_T, solver.timesteps.tolist()  # (B, ...); n_steps ints, descending
    # disable=None lets tqdm switch itself off when the output is not a terminal.
    for t in tqdm(steps, desc=f"{method} sampling", disable=None if progress else True):
        t_batch = torch.full((x_t.shape[0],), t, dtype=torch.long, device=x_t.device)  # (B,)
        out = model_fn(x_t, t_batch)  # (B, ...)
        if bound is not None:
            abar = float(scheduler.alphas_cumprod[t])
            out = clip_model_output(out, x_t, abar, bound, prediction=scheduler.config.prediction)
        x_t = solver.step(out, t, x_t).prev_sample  # (B, ...)
    return x_t
