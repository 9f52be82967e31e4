"""The field's spike statistics of a model's own spikes inside `evaluate` (issue 18).

For a model whose ``generate`` takes ``output`` (``"spikes"``: Poisson counts of its rates, see
`neurognocchi.estimators.outputs`) and trials with ``spikes`` and ``bin_size_s``,
:func:`spike_section` scores the model's spikes with
:func:`~.spike_stats.all_statistics` (LDNS's statistics) in a matched design. The held-in
validation trials are split at random (the evaluation's seed) into two halves, A and B:

* floor: real A vs real B;
* "conditional": one spike sample from each code of A vs real B;
* "unconditional": as many samples of the model's prior (``sample_prior``) vs real B.

Every comparison has the same sizes and the same reference, so a model whose spikes are
distributed like the real ones reaches the floor in expectation (comparing the model's full
set with all real trials against a floor of two halves would favour the model: smaller sets
have noisier, higher statistics). These are population statistics of a set of trials, so one
sampling seed is drawn (its own, derived from the evaluation's seed, so that the other steps'
random numbers do not move); the tables' s.d. of them is over training seeds.
:func:`spike_summary` and :func:`spike_floors` give the flat keys of ``summary`` and of the
"real trials" floor.
"""

from __future__ import annotations

import numpy as np

from neurognocchi.evaluation.generation import accepts_common_noise, takes_keyword
from neurognocchi.evaluation.spike_stats import all_statistics, split_halves

__all__ = [
    "PREFIXES",
    "SUMMARY_KEYS",
    "TABLE_ROWS",
    "spike_floors",
    "spike_section",
    "spike_summary",
]

#: Summary prefix of each kind of generated set.
PREFIXES = {"conditional": "spikes_cond", "unconditional": "spikes_prior"}
#: Summary name -> (key of :func:`~.spike_stats.all_statistics`, table label, format).
SUMMARY_KEYS = {
    "count_kl": ("population_count_kl", "population spike-count KL", ".4f"),
    "corr_rmse": ("correlation_rmse", "pairwise correlation RMSE", ".4f"),
    "isi_mean_rmse": ("mean_isi_rmse_s", "mean-ISI RMSE (s)", ".4f"),
    "isi_sd_rmse": ("sd_isi_rmse_s", "ISI s.d. RMSE (s)", ".4f"),
    "rate_mean_rmse": ("mean_rate_rmse_hz", "mean rate RMSE (Hz)", ".3f"),
    "rate_sd_rmse": ("sd_rate_rmse_hz", "rate s.d. RMSE (Hz)", ".3f"),
    "pc1_power_rmse": ("pc1_log10_power_rmse", "PC 1 log10 power RMSE", ".3f"),
    "pca_frechet": ("pca_frechet", "Fréchet distance of PCA trial features", ".3f"),
}
#: The comparison table's rows of this section: (summary key, label, format).
TABLE_ROWS = [
    (f"{prefix}_{name}", f"spike statistics, {kind}: {label}", fmt)
    for kind, prefix in PREFIXES.items()
    for name, (_, label, fmt) in SUMMARY_KEYS.items()
]
SPIKE_STREAM = 18  # SeedSequence key of this section's draws: apart from every step_seed
MIN_VALID_TRIALS = 4  # every statistic needs two trials per half


def skip_reason(model, data) -> str | None:
    """Why the section does not apply to ``model`` on ``data`` (None: it does)."""
    trials = data.trials
    if data.output_kind == "codes":
        return "the model only encodes trials (output_kind 'codes')"
    if trials.spikes is None or not trials.bin_size_s:
        return "the trials have no spikes or no bin_size_s"
    if len(data.split.valid) < MIN_VALID_TRIALS or trials.n_time < 2:
        return f"need at least {MIN_VALID_TRIALS} validation trials and 2 bins"
    if not takes_keyword(model.generate, "output", any_keyword=True):
        return f"{type(model).__name__}.generate takes no output= (cannot return spikes)"
    if not takes_keyword(model.sample_prior, "output", any_keyword=True):
        return f"{type(model).__name__}.sample_prior takes no output= (cannot return spikes)"
    return None


def section_seeds(seed: int) -> tuple[int, int, int]:
    """Seeds of the halves' split, of the conditional and of the unconditional spikes,
    derived from the evaluation's ``seed`` in a stream of their own."""
    split, conditional, prior = np.random.SeedSequence([seed, SPIKE_STREAM]).generate_state(3)
    return int(split), int(conditional), int(prior)


def halves(valid: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Trials A and B of :func:`~.spike_stats.split_halves` (A: ``len(valid) // 2`` trials),
    each sorted."""
    valid = np.asarray(valid)
    first, rest = split_halves(len(valid), section_seeds(seed)[0])
    return np.sort(valid[first]), np.sort(valid[rest])


def _checked(spikes, shape: tuple[int, ...], what: str) -> np.ndarray:
    spikes = np.asarray(spikes)
    if spikes.shape != shape:
        raise RuntimeError(f"{what} returned shape {spikes.shape}; expected {shape}")
    return spikes


def model_spikes(model, data, trials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model's conditional and unconditional spikes, each (len(trials), T, N).

    Conditional: ``generate(codes[trials], n_samples=1, output="spikes")`` with independent
    noise per code (``common_noise=False`` where accepted: shared noise would make the trials
    alike and bias every population statistic). Unconditional: ``sample_prior(len(trials),
    output="spikes")``.
    """
    shape = (len(trials), *data.trials.spikes.shape[1:])
    _, conditional_seed, prior_seed = section_seeds(data.seed)
    options = {"common_noise": False} if accepts_common_noise(model) else {}
    conditional = model.generate(
        data.codes[trials], n_samples=1, random_state=conditional_seed, output="spikes", **options
    )
    conditional = _checked(conditional, (shape[0], 1, *shape[1:]), "model.generate")[:, 0]
    prior = model.sample_prior(len(trials), random_state=prior_seed, output="spikes")
    return conditional, _checked(prior, shape, "model.sample_prior")


def spike_section(model, data) -> dict:
    """Spike statistics of the model's own spikes vs real validation spikes, with floors.

    Parameters
    ----------
    model : fitted model with ``generate(codes, *, n_samples, random_state, output)`` and
        ``sample_prior(n, *, random_state, output)``
    data : `~neurognocchi.evaluation.protocol.ProtocolData`
        Codes (n_trials, code_dim), split and seed of the evaluation; trials with ``spikes``
        (n_trials, T, N) and ``bin_size_s``.

    Returns
    -------
    dict
        ``conditional``, ``unconditional`` and ``floor``: :func:`~.spike_stats.all_statistics`
        (every key of ``STATISTIC_KEYS``) of the model's spikes (or of real A) vs real B;
        ``n_trials`` (sizes of A and B) and the seeds. ``{"skipped": reason}`` when the section
        does not apply, also when the model's ``generate`` refuses ``output="spikes"`` (e.g. a
        Gaussian LFADS, or a model fitted without a bin size), with its message.
    """
    reason = skip_reason(model, data)
    if reason is not None:
        return {"skipped": reason}
    first, rest = halves(data.split.valid, data.seed)
    try:
        conditional, prior = model_spikes(model, data, first)
    except (ValueError, TypeError) as error:  # a refusal, e.g. no rates to draw from
        if isinstance(error, TypeError) and "output" not in str(error):
            raise  # a wrapper passed output= on to a model without it: a refusal; else a bug
        return {"skipped": f"the model cannot generate spikes: {error}"}
    spikes, bin_size_s = data.trials.spikes, float(data.trials.bin_size_s)
    sets = {"conditional": conditional, "unconditional": prior, "floor": spikes[first]}
    out = {
        kind: all_statistics(counts, spikes[rest], bin_size_s=bin_size_s)
        for kind, counts in sets.items()
    }
    seeds = dict(zip(("split", *PREFIXES), section_seeds(data.seed), strict=True))
    return out | {"n_trials": [len(first), len(rest)], "seeds": seeds}


def _flat(section: dict | None, *, floor: bool) -> dict:
    if not section or "skipped" in section:
        return {}
    return {
        f"{prefix}_{name}": section["floor" if floor else kind][key]
        for kind, prefix in PREFIXES.items()
        for name, (key, _, _) in SUMMARY_KEYS.items()
    }


def spike_summary(section: dict | None) -> dict:
    """Flat summary keys ``spikes_cond_<name>`` and ``spikes_prior_<name>`` (names of
    :data:`SUMMARY_KEYS`) of a :func:`spike_section` result; empty when it was skipped."""
    return _flat(section, floor=False)


def spike_floors(section: dict | None) -> dict:
    """The same keys as :func:`spike_summary` holding the real-vs-real floor (real A vs real
    B; the same for both kinds), for the "real trials" floor summary."""
    return _flat(section, floor=True)
