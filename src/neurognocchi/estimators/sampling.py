"""How the diffusion estimators batch their samples: every sample with its own noise, or
common random numbers (sample ``k`` of every code shares its noise; see
:meth:`GNOCCHI.generate <neurognocchi.estimators.GNOCCHI.generate>`)."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

__all__ = ["denoise_codes"]


def denoise_codes(
    model,
    code: torch.Tensor,
    n_samples: int,
    seed: int,
    *,
    batch_size: int,
    common_noise: bool,
    verbose: bool,
    options: dict,
) -> np.ndarray:
    """Samples ``(n_codes * n_samples, T, C)`` of ``model.generate`` for codes ``code``
    (n_codes, L), the rows of a code consecutive, denoised ``batch_size`` rows at a time
    whatever code they belong to (full batches are the cheapest per row).

    Without ``common_noise`` all rows draw from one generator seeded with ``seed``. With it
    every batch reseeds the generator and each draw is a bank of ``n_samples`` noise rows,
    row ``k`` going to sample ``k`` of whichever code: sample ``k`` of every code gets the
    same noise however the rows are batched (its float32 rounding still depends on the
    batch it runs in).
    """
    device = code.device
    repeated = code.repeat_interleave(n_samples, dim=0)  # (n_codes * n_samples, L)
    sample_of_row = torch.arange(n_samples).repeat(len(code))  # k of each row
    starts = range(0, len(repeated), batch_size)
    generator = torch.Generator(device=device).manual_seed(seed)
    samples = []
    show = verbose and len(starts) > 1
    for start in tqdm(starts, desc="denoising batches", disable=None if show else True):
        rows = slice(start, start + batch_size)
        shared = {}
        if common_noise:  # the same seed for every batch: each draws the same bank of rows
            generator = torch.Generator(device=device).manual_seed(seed)
            shared = {"noise_index": sample_of_row[rows], "n_noise": n_samples}
        samples.append(model.generate(repeated[rows], generator=generator, **options, **shared))
    return torch.cat(samples).cpu().numpy()
