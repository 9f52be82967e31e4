"""The protocol's steps that generate (DESIGN §7.3, 7.5-7.7), one sampling seed at a time.

Each ``*_metrics`` function takes the model, the `ProtocolData`, the behaviour decoder and one
seed, and returns ``(scalars, details)``: a flat dict of the numbers that are averaged over
sampling seeds, and arrays kept from the first seed (for figures). The codes, steps and goals
they generate from come from the ``*_plan`` functions, which the floors
(`neurognocchi.evaluation.floors`) reuse so that real trials are scored on the same plan.

All generation goes through :func:`~.generation.generate_activity` with the protocol's K and
common random numbers: one call per traversal (all steps share their noise) and one call for
all navigated codes (all sources and goals share it), and behaviour is decoded from the mean
of the K samples; the per-sample spread is reported beside it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from neurognocchi.evaluation import behavior, metrics, navigation
from neurognocchi.evaluation.generation import generate_activity, poisson_activity
from neurognocchi.evaluation.spikes import bits_per_spike

SEED_OFFSETS = {"reconstruction": 0, "navigation": 1, "traversal": 2, "prior": 3, "poisson": 4}
SEED_STRIDE = 1000  # sampling seed s of a step: seed + offset + SEED_STRIDE * s


def step_seed(data, step: str, sampling_seed: int) -> int:
    """The generation seed of one step for sampling seed number ``sampling_seed``."""
    return data.seed + SEED_OFFSETS[step] + SEED_STRIDE * sampling_seed


def decode_variables(decoder, activity, window_bins: int) -> np.ndarray:
    """Decoded (end x, end y, start x, start y) of activity (..., T, N): shape (..., 4)."""
    flat = activity.reshape(-1, *activity.shape[-2:])
    start, end = behavior.start_and_end(decoder.decode(flat), window_bins)
    return np.concatenate([end, start], axis=1).reshape(*activity.shape[:-2], 4)


def _generate(model, data, codes, seed: int):
    return generate_activity(
        model,
        codes,
        n_samples=data.n_samples,
        random_state=seed,
        common_noise=data.common_noise,
        smoothing=data.smoothing,
    )


def endpoint_spread(decoded: np.ndarray) -> float:
    """Mean over codes of the RMS distance of the decoded endpoints (..., K, 4) to their mean."""
    ends = decoded[..., :2]  # (n_codes, K, 2)
    return float(navigation.bias_and_spread(ends, ends.mean(-2)).spread.mean())


# ---------------------------------------------------------------------- reconstruction (§7.3)
def reconstruction_scores(mean: np.ndarray, data) -> dict:
    """R² of conditional means (n_valid, T, N) of the validation trials: against the
    reference (truth smoothed like the data, or activity) and against the activity."""
    valid = data.split.valid
    per_neuron = metrics.per_neuron_r2(mean, data.reference[valid])
    finite = np.isfinite(per_neuron)
    return {
        "reconstruction_r2": metrics.pooled_r2(mean, data.reference[valid]),
        "reconstruction_r2_data": metrics.pooled_r2(mean, data.trials.activity[valid]),
        "reconstruction_median_neuron_r2": float(np.median(per_neuron[finite]))
        if finite.any()
        else float("nan"),
    }, per_neuron


def reconstruction_metrics(model, data, sampling_seed: int):
    """§7.3: each validation trial regenerated from its own code (K samples)."""
    valid = data.split.valid
    generated = _generate(
        model, data, data.codes[valid], step_seed(data, "reconstruction", sampling_seed)
    )
    scalars, per_neuron = reconstruction_scores(generated.mean, data)
    spikes = data.trials.spikes
    if generated.rates is not None and spikes is not None and data.trials.bin_size_s:
        counts_per_bin = np.clip(generated.rates, 1e-9, None) * data.trials.bin_size_s
        scalars["bits_per_spike"] = bits_per_spike(counts_per_bin, spikes[valid])
    details = {"per_neuron_r2": per_neuron, "samples": generated.samples}
    return scalars, details | {"rates": generated.rates}


# ---------------------------------------------------------------------- navigation (§7.5)
class NavigationPlan(NamedTuple):
    """Held-out goal conditions and the codes navigated to each (from its nearest sources)."""

    labels: np.ndarray  # (n_goals,) condition labels
    goals: np.ndarray  # (n_goals, 4) mean variables of each goal condition
    codes: np.ndarray  # (n_navigated, code_dim) every navigated code
    goal_of_code: np.ndarray  # (n_navigated,) goal index of each code


def condition_means(data, index, values=None) -> tuple[np.ndarray, np.ndarray]:
    """Labels of the conditions among trials ``index`` and the mean of ``values`` (default
    the variables) over each condition's trials."""
    values = data.variables if values is None else values
    labels = np.unique(data.conditions[index])
    return labels, metrics.condition_means(values[index], data.conditions[index], labels)


def navigation_plan(data, directions) -> NavigationPlan:
    """Each held-out condition synthesised from the mean code of its nearest held-in
    condition(s) (ties all used), moved by the difference in target and mean start."""
    heldin, heldout = data.heldin, data.split.heldout
    _, source_codes = condition_means(data, heldin, data.codes)
    _, source_values = condition_means(data, heldin)
    labels, goals = condition_means(data, heldout)
    codes, owners = [], []
    for i, goal in enumerate(goals):
        nearest = navigation.nearest_conditions(source_values[:, :2], goal[:2])
        codes.append(
            navigation.navigated_codes(
                source_codes[nearest], source_values[nearest], goal, directions
            )
        )
        owners.append(np.full(len(nearest), i))
    return NavigationPlan(labels, goals, np.concatenate(codes), np.concatenate(owners))


def navigation_scores(decoder, samples, means, plan: NavigationPlan, data):
    """Bias, spread and PSTH R² of navigated activity: ``samples`` (n_navigated, K, T, N)
    (their decoded endpoints give the spread) and ``means`` (n_navigated, T, N), the
    conditional means (decoded, they give the bias: for a sampler the mean of the decoded
    samples, for a rate model its smoothed rates without Poisson noise; and the PSTH). All
    sources of a goal are pooled as one distribution. Returns (scalars, details)."""
    decoded = decode_variables(decoder, samples, data.window_bins)  # (n, K, 4)
    decoded_means = decode_variables(decoder, means, data.window_bins)  # (n, 4)
    centres = np.stack(
        [decoded_means[plan.goal_of_code == i].mean(0) for i in range(len(plan.goals))]
    )
    psth = np.stack([means[plan.goal_of_code == i].mean(0) for i in range(len(plan.goals))])
    endpoint_bias = np.linalg.norm(centres[:, :2] - plan.goals[:, :2], axis=1)  # (n_goals,)
    start_bias = np.linalg.norm(centres[:, 2:] - plan.goals[:, 2:], axis=1)
    _, real = condition_means(data, data.split.heldout, data.trials.activity)
    bias = float(endpoint_bias.mean())
    scalars = {
        "navigation_bias": bias,
        "navigation_bias_grid": bias / data.grid_spacing,
        "navigation_spread": endpoint_spread(decoded),
        "navigation_start_bias": float(start_bias.mean()),
        "navigation_psth_r2": metrics.pooled_r2(psth, real),
    }
    return scalars, {"condition_bias": endpoint_bias, "decoded_endpoints": centres[:, :2]}


def navigation_metrics(model, data, decoder, plan: NavigationPlan, sampling_seed: int):
    """§7.5 for one sampling seed: every navigated code in one call (shared noise)."""
    generated = _generate(model, data, plan.codes, step_seed(data, "navigation", sampling_seed))
    return navigation_scores(decoder, generated.samples, generated.mean, plan, data)


# ---------------------------------------------------------------------- traversals (§7.6)
class TraversalPlan(NamedTuple):
    """One traversal: requested variables at each step and the codes generated from."""

    variable: int  # index of the traversed variable
    values: np.ndarray  # (n_steps,) requested values of the traversed variable
    requested: np.ndarray  # (n_steps, 4) all requested variables at each step
    codes: np.ndarray  # (n_steps, code_dim)


def traversal_plans(data, directions) -> list[TraversalPlan]:
    """Each variable traversed from the mean held-in code over its 5th-95th percentile range
    among held-in trials, in ``n_traversal_steps`` steps."""
    heldin = data.heldin
    base_code, base_values = data.codes[heldin].mean(0), data.variables[heldin].mean(0)
    plans = []
    for j in range(len(data.variable_names)):
        values = np.linspace(
            *np.percentile(data.variables[heldin, j], [5, 95]), data.n_traversal_steps
        )
        requested = np.repeat(base_values[None], len(values), axis=0)
        requested[:, j] = values
        codes = navigation.traversal_codes(base_code, directions[:, j], values - base_values[j])
        plans.append(TraversalPlan(j, values, requested, codes))
    return plans


def traversal_scores(decoder, samples, means, plan: TraversalPlan, name: str, data):
    """Unintended movement, intended gain and spread of one traversal from its samples
    (n_steps, K, T, N) and conditional means (n_steps, T, N). Returns (scalars, the decoded
    variables of the means (n_steps, 4))."""
    decoded = decode_variables(decoder, samples, data.window_bins)
    decoded_mean = decode_variables(decoder, means, data.window_bins)
    unintended = navigation.unintended_movement(decoded_mean, plan.variable)
    if np.ptp(plan.values) > 0:
        gain = navigation.intended_gain(decoded_mean[:, plan.variable], plan.values)
        per_gain = navigation.unintended_per_gain(unintended, gain)
    else:  # the variable does not vary among held-in trials: nothing to traverse
        gain = per_gain = float("nan")
    return {
        f"unintended_{name}": unintended,
        f"intended_gain_{name}": gain,
        f"unintended_per_gain_{name}": per_gain,
        f"traversal_spread_{name}": endpoint_spread(decoded),
    }, decoded_mean


def traversal_metrics(model, data, decoder, plans, sampling_seed: int):
    """§7.6 for one sampling seed: one call per traversal, all its steps sharing noise."""
    scalars, details = {}, {}
    for plan, name in zip(plans, data.variable_names, strict=True):
        seed = step_seed(data, "traversal", sampling_seed) + 100 * plan.variable
        generated = _generate(model, data, plan.codes, seed)
        numbers, decoded_mean = traversal_scores(
            decoder, generated.samples, generated.mean, plan, name, data
        )
        scalars |= numbers
        details[name] = {
            "values": plan.values,
            "decoded": decoded_mean,
            "trajectories": decoder.decode(generated.mean),  # (n_steps, T, 2)
        }
    return scalars, details


# ---------------------------------------------------------------------- sample statistics (§7.7)
def prior_samples(model, data, sampling_seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """As many unconditional activity-like samples as validation trials (n_valid, T, N), and
    a rate model's rates behind them (else None)."""
    n, seed = len(data.split.valid), step_seed(data, "prior", sampling_seed)
    prior = np.asarray(model.sample_prior(n, random_state=seed), dtype=np.float64)
    expected = (n, *data.trials.activity.shape[1:])
    if prior.shape != expected or not np.all(np.isfinite(prior)):
        raise ValueError(
            f"model.sample_prior returned shape {prior.shape} (finite values expected, "
            f"shape {expected})"
        )
    if data.output_kind != "rates" or data.smoothing is None:
        return prior, (prior if data.output_kind == "rates" else None)
    samples = poisson_activity(prior, 1, data.smoothing, random_state=seed, common_noise=False)
    return samples[:, 0], prior


def sample_statistics_metrics(model, data, conditional, sampling_seed: int):
    """§7.7 against the validation trials: unconditional samples and the first conditional
    sample of each validation code. With spikes, Poisson counts against the real counts: of
    a rate model's rates (as real spikes are counts of rates), of a sampler's samples.

    ``conditional`` = (activity-like samples (n_valid, T, N), rates or None)."""
    valid = data.split.valid
    prior, prior_rates = prior_samples(model, data, sampling_seed)
    generated = {"unconditional": (prior, prior_rates), "conditional": conditional}
    out = {}
    for kind, (samples, rates) in generated.items():
        stats = metrics.sample_statistics(samples, data.trials.activity[valid])
        out |= {f"{kind}_{key}": stats[key] for key in STATISTICS}
        if data.trials.spikes is not None:
            seed = step_seed(data, "poisson", sampling_seed)
            counts = metrics.poisson_counts(
                samples if rates is None else rates,
                bin_size_s=data.trials.bin_size_s,
                random_state=seed,
            )
            stats = metrics.sample_statistics(counts, data.trials.spikes[valid])
            out |= {f"{kind}_spikes_{key}": stats[key] for key in STATISTICS}
    return out, {"prior": prior}


STATISTICS = ("mean_rel_error", "sd_rel_error", "corr_rmse")
