"""Co-smoothing inside `evaluate`: bits per spike on held-out neurons (Neural Latents
Benchmark, Pei et al. 2021; issue 18).

A model fitted with ``heldout_neurons`` (LFADS, LatentGNOCCHI) never sees those neurons'
counts in its encoder (:mod:`neurognocchi.models.heldout`). :func:`cosmoothing_section` asks it
for the rates of the validation trials, ``reconstruct(trials, output="rates")`` in counts per
bin, and scores the held-out neurons' columns against their real counts with
:func:`~.spikes.bits_per_spike` (the null: each neuron's mean count over those trials and
bins). Beside it, NLB's **spike-smoothing baseline** on the same neurons: the held-in counts
smoothed with a Gaussian (s.d. ``SMOOTHING_SIGMA_S``), then one Poisson GLM per held-out
neuron (scikit-learn's ``PoissonRegressor``) fitted on the training trials' bins and applied
to the validation trials.
"""

from __future__ import annotations

import numpy as np

from neurognocchi.evaluation.generation import takes_keyword
from neurognocchi.evaluation.spikes import bits_per_spike

__all__ = ["TABLE_ROWS", "cosmoothing_section", "cosmoothing_summary", "smoothing_baseline"]

SMOOTHING_SIGMA_S = 0.05  # NLB's smoothing baseline kernel is of this order (40-60 ms)
GLM_ALPHA = 1e-2  # L2 weight of each held-out neuron's Poisson GLM (standardised inputs)
MAX_GLM_BINS = 50_000  # training bins used by each GLM (an even subsample beyond this)
#: The comparison table's rows of this section: (summary key, label, format).
TABLE_ROWS = [
    ("cosmooth_bits_per_spike", "co-smoothing bits/spike, held-out neurons (valid)", ".3f"),
    (
        "cosmooth_smoothing_bits_per_spike",
        "co-smoothing bits/spike, spike-smoothing baseline (same neurons)",
        ".3f",
    ),
]


def _smoothed(spikes: np.ndarray, bin_size_s: float) -> np.ndarray:
    from neurognocchi.data.preprocess import gaussian_smooth

    return gaussian_smooth(
        spikes.astype(np.float64), sigma_s=SMOOTHING_SIGMA_S, bin_size_s=bin_size_s
    )


def smoothing_baseline(train_spikes, valid_spikes, heldout, *, bin_size_s: float) -> np.ndarray:
    """NLB's spike-smoothing baseline: rates (counts per bin) of the held-out neurons of the
    validation trials, ``(n_valid, T, len(heldout))``, predicted by Poisson GLMs from the
    smoothed held-in counts (fitted on the training trials)."""
    from sklearn.linear_model import PoissonRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    heldout = np.asarray(heldout, dtype=np.intp)
    heldin = np.setdiff1d(np.arange(train_spikes.shape[-1]), heldout)

    def features(spikes):
        return _smoothed(spikes[..., heldin], bin_size_s).reshape(-1, len(heldin))

    x_train, x_valid = features(train_spikes), features(valid_spikes)
    y_train = train_spikes[..., heldout].reshape(-1, len(heldout)).astype(np.float64)
    rows = np.linspace(0, len(x_train) - 1, min(len(x_train), MAX_GLM_BINS)).astype(np.intp)
    rates = np.empty((len(x_valid), len(heldout)))
    for j in range(len(heldout)):
        glm = make_pipeline(StandardScaler(), PoissonRegressor(alpha=GLM_ALPHA, max_iter=300))
        rates[:, j] = glm.fit(x_train[rows], y_train[rows, j]).predict(x_valid)
    return rates.reshape(*valid_spikes.shape[:2], len(heldout))


def skip_reason(model, data) -> str | None:
    """Why the section does not apply (None: it does)."""
    if len(getattr(model, "heldout_neurons_", ())) == 0:
        return "the model was fitted without heldout_neurons"
    if data.trials.spikes is None or not data.trials.bin_size_s:
        return "the trials have no spikes or no bin_size_s"
    if not takes_keyword(model.reconstruct, "output"):
        return f"{type(model).__name__}.reconstruct takes no output= (cannot return rates)"
    return None


def cosmoothing_section(model, data) -> dict:
    """Bits per spike of the model and of the smoothing baseline on the model's held-out
    neurons of the validation trials (``{"skipped": reason}`` when it does not apply).

    Parameters
    ----------
    model : fitted model with ``heldout_neurons_`` and ``reconstruct(X, output="rates")``
    data : `~neurognocchi.evaluation.protocol.ProtocolData`
    """
    reason = skip_reason(model, data)
    if reason is not None:
        return {"skipped": reason}
    trials, split = data.trials, data.split
    heldout = np.asarray(model.heldout_neurons_, dtype=np.intp)
    valid = trials.spikes[split.valid]
    try:
        rates = np.asarray(model.reconstruct(trials[split.valid], output="rates"))
    except ValueError as error:  # a refusal, e.g. a Gaussian LFADS has no rates
        return {"skipped": f"the model cannot reconstruct rates: {error}"}
    if rates.shape != valid.shape:
        raise RuntimeError(
            f"model.reconstruct returned shape {rates.shape}; expected {valid.shape}"
        )
    bin_size_s = float(trials.bin_size_s)
    baseline = smoothing_baseline(trials.spikes[split.train], valid, heldout, bin_size_s=bin_size_s)
    real = valid[..., heldout]
    return {
        "heldout_neurons": heldout,
        "bits_per_spike": bits_per_spike(rates[..., heldout], real),
        "smoothing_bits_per_spike": bits_per_spike(baseline, real),
        "smoothing_sigma_s": SMOOTHING_SIGMA_S,
    }


def cosmoothing_summary(section: dict | None) -> dict:
    """Flat summary keys of a :func:`cosmoothing_section` result (empty when skipped)."""
    if not section or "skipped" in section:
        return {}
    return {
        "cosmooth_bits_per_spike": section["bits_per_spike"],
        "cosmooth_smoothing_bits_per_spike": section["smoothing_bits_per_spike"],
    }
