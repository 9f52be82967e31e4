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
    (n_codes, L), ``batch_size`` rows at a time, the rows of a code consecutive.

    Without ``common_noise`` all rows draw from one generator seeded with ``seed``. With it
    each code's samples are denoised apart (a network's float32 rounding depends on its batch)
    and every batch reseeds the generator and draws a bank of ``n_samples`` noise rows, row
    ``k`` going to sample ``k``, so that a code's samples do not depend on the other codes.
    """
    device = code.device
    if not common_noise:
        repeated = code.repeat_interleave(n_samples, dim=0)  # (n_codes * n_samples, L)
        generator = torch.Generator(device=device).manual_seed(seed)
        progress = verbose and len(repeated) > batch_size
        options = options | {"progress": progress}
        samples = [
            model.generate(repeated[i : i + batch_size], generator=generator, **options)
            for i in range(0, len(repeated), batch_size)
        ]
        return torch.cat(samples).cpu().numpy()
    samples = []
    show = verbose and len(code) * n_samples > batch_size
    for row in tqdm(code, desc="codes", disable=None if show else True):  # (L,)
        for start in range(0, n_samples, batch_size):
            index = torch.arange(start, min(start + batch_size, n_samples))  # sample ks
            # The same seed for every batch: each draws the same bank of noise rows.
            generator = torch.Generator(device=device).manual_seed(seed)
            samples.append(
                model.generate(
                    row.repeat(len(index), 1),
                    generator=generator,
                    noise_index=index,
                    n_noise=n_samples,
                    **options,
                )
            )
    return torch.cat(samples).cpu().numpy()
