"""The steps of the evaluation protocol (DESIGN §7), each from a `ProtocolData` and a model.

`neurognocchi.evaluation.protocol` gathers the data (``data`` below: codes, variables named by
``data.variable_names``, split, seeds) and calls `run_all`, `config` and `summary`; the steps
call the plain metric functions of `metrics`, `behavior` and `navigation`.

Generation seeds are ``seed + offset`` with one fixed offset per step (plus 1000 per
synthesised condition or traversed variable), so every step is reproducible on its own.
"""

from __future__ import annotations

import numpy as np

from neurognocchi.evaluation import behavior, metrics, navigation
from neurognocchi.evaluation.figure_data import figure_data

SEED_OFFSETS = {"reconstruction": 0, "navigation": 1, "traversal": 2, "prior": 3, "poisson": 4}


def _generate(model, codes, n_samples: int, seed: int) -> np.ndarray:
    """Model samples (n_codes, n_samples, n_time, n_neurons) as float64, checked finite."""
    samples = np.asarray(model.generate(codes, n_samples=n_samples, random_state=seed), float)
    if samples.ndim != 4 or samples.shape[:2] != (len(codes), n_samples):
        raise ValueError(
            f"model.generate returned shape {samples.shape}; expected "
            f"({len(codes)}, {n_samples}, n_time, n_neurons)"
        )
    if not np.all(np.isfinite(samples)):
        raise ValueError("model.generate returned NaN or infinite values")
    return samples


def _seed(data, step: str) -> int:
    return data.seed + SEED_OFFSETS[step]


def code_snr_section(data) -> dict:
    """§7.1 on all held-in trials (train + valid), conditions = grid targets; also the linear
    read-out of each variable: ridge code -> variable fitted on the training trials, R² on the
    held-in validation trials."""
    heldin, train, valid = data.heldin, data.split.train, data.split.valid
    out = {}
    for j, name in enumerate(data.variable_names):
        snr = metrics.code_snr(
            data.codes[heldin], data.variables[heldin, j], data.conditions[heldin]
        )
        r2 = metrics.code_regression_r2(
            data.codes[train], data.variables[train, j], data.codes[valid], data.variables[valid, j]
        )
        out[name] = {"snr": snr, "snr_db": metrics.to_db(snr), "r2_valid": r2}
    return out


def heldout_section(data) -> dict:
    """§7.2: ridge code -> target on all held-in trials, applied to held-out trials."""
    heldin, heldout = data.heldin, data.split.heldout
    result = metrics.target_prediction(
        data.codes[heldin],
        data.variables[heldin, :2],
        data.codes[heldout],
        data.variables[heldout, :2],
        grid_spacing=data.grid_spacing,
    )
    result["true"] = data.variables[heldout, :2]
    return result


def reconstruction_section(model, data) -> tuple[dict, np.ndarray]:
    """§7.3 on validation trials: the mean of K samples from each trial's own code vs the
    reference (truth or activity). Also returns the samples (n_valid, K, T, N)."""
    valid = data.split.valid
    samples = _generate(model, data.codes[valid], data.n_samples, _seed(data, "reconstruction"))
    mean = samples.mean(axis=1)
    reference = data.reference[valid]
    per_neuron = metrics.per_neuron_r2(mean, reference)
    section = {
        "reference": "truth" if data.trials.truth is not None else "activity",
        "pooled_r2": metrics.pooled_r2(mean, reference),
        "per_neuron_r2": per_neuron,
        "median_neuron_r2": float(np.nanmedian(per_neuron))
        if np.any(np.isfinite(per_neuron))
        else float("nan"),
    }
    return section, samples


def decoder_section(data):
    """§7.4: ridge activity -> hand position per bin on real training trials; R^2 on valid."""
    train, valid = data.split.train, data.split.valid
    decoder = behavior.fit_behavior_decoder(data.trials.activity[train], data.positions[train])
    section = {
        "r2_valid": behavior.decoder_r2(
            decoder, data.trials.activity[valid], data.positions[valid]
        ),
        "alpha": decoder.alpha,
        "position_names": list(data.position_names),
    }
    return section, decoder


def _decoded_variables(decoder, samples, window_bins: int) -> np.ndarray:
    """Decoded (end x, end y, start x, start y) of samples (..., T, N): shape (..., 4)."""
    flat = samples.reshape(-1, *samples.shape[-2:])
    start, end = behavior.start_and_end(decoder.decode(flat), window_bins)
    return np.concatenate([end, start], axis=1).reshape(*samples.shape[:-2], 4)


def _condition_means(data, index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Condition labels of ``index`` and the mean code and variables of each."""
    labels = np.unique(data.conditions[index])
    codes = np.stack([data.codes[index][data.conditions[index] == c].mean(0) for c in labels])
    values = np.stack([data.variables[index][data.conditions[index] == c].mean(0) for c in labels])
    return labels, codes, values


def _synthesise(model, data, decoder, directions, sources, goal, seed: int) -> dict:
    """Generate a goal condition from the nearest held-in conditions (§7.5); decode it.

    ``sources`` = (mean codes, mean variables) of the held-in conditions; ``goal`` (4,) holds
    the goal target and mean start. Returns decoded endpoint/start errors and the PSTH."""
    source_codes, source_values = sources
    nearest = navigation.nearest_conditions(source_values[:, :2], goal[:2])
    codes = navigation.navigated_codes(
        source_codes[nearest], source_values[nearest], goal, directions
    )
    samples = _generate(model, codes, data.n_samples, seed)  # (n_nearest, K, T, N)
    decoded = _decoded_variables(decoder, samples, data.window_bins).reshape(-1, 4)
    return {
        "endpoint_error": np.linalg.norm(decoded[:, :2] - goal[:2], axis=1).mean(),
        "start_error": np.linalg.norm(decoded[:, 2:] - goal[2:], axis=1).mean(),
        "endpoint": decoded[:, :2].mean(0),
        "n_sources": len(nearest),
        "psth": samples.mean(axis=(0, 1)),  # (T, N)
    }


def navigation_section(model, data, decoder) -> dict:
    """§7.5: code directions, orthogonality, and synthesis of each held-out condition."""
    directions, _ = navigation.navigation_directions(
        data.codes[data.heldin], data.variables[data.heldin]
    )
    cosines = navigation.direction_cosines(directions)
    sources = _condition_means(data, data.heldin)[1:]  # (mean codes, mean variables)
    heldout, base_seed = data.split.heldout, _seed(data, "navigation")
    labels, _, goals = _condition_means(data, heldout)
    synthesised = [
        _synthesise(model, data, decoder, directions, sources, goal, base_seed + 1000 * i)
        for i, goal in enumerate(goals)
    ]
    real_psth = [
        data.trials.activity[heldout[data.conditions[heldout] == c]].mean(0) for c in labels
    ]
    errors = np.array([item["endpoint_error"] for item in synthesised])
    start_errors = np.array([item["start_error"] for item in synthesised])
    return {
        "directions": directions,
        "cosines": cosines,
        "orthogonality": cosines[0, 1],
        "conditions": labels,
        "intended_targets": goals[:, :2],
        "intended_starts": goals[:, 2:],
        "decoded_endpoints": np.array([item["endpoint"] for item in synthesised]),
        "n_sources": [item["n_sources"] for item in synthesised],
        "condition_endpoint_errors": errors,
        "endpoint_error": errors.mean(),
        "endpoint_error_grid": errors.mean() / data.grid_spacing,
        "start_error": start_errors.mean(),
        "psth_r2": metrics.pooled_r2(
            np.array([item["psth"] for item in synthesised]), np.array(real_psth)
        ),
    }


def traversal_section(model, data, decoder, directions: np.ndarray) -> dict:
    """§7.6: traverse each variable from the mean held-in code over its 5th-95th percentile
    range in ``n_traversal_steps`` steps; unintended movement of the other decoded variables."""
    heldin = data.heldin
    base_code, base_values = data.codes[heldin].mean(0), data.variables[heldin].mean(0)
    out = {}
    for j, name in enumerate(data.variable_names):
        low_high = np.percentile(data.variables[heldin, j], [5, 95])
        values = np.linspace(*low_high, data.n_traversal_steps)
        codes = navigation.traversal_codes(base_code, directions[:, j], values - base_values[j])
        samples = _generate(model, codes, data.n_samples, _seed(data, "traversal") + 1000 * j)
        decoded = _decoded_variables(decoder, samples, data.window_bins).mean(axis=1)
        flat = samples.reshape(-1, *samples.shape[2:])
        trajectory = decoder.decode(flat).reshape(*samples.shape[:2], -1, 2).mean(axis=1)
        out[name] = {
            "values": values,
            "decoded": decoded,
            "unintended": navigation.unintended_movement(decoded, j),
            "intended_change": decoded[-1, j] - decoded[0, j],
            "requested_change": values[-1] - values[0],
            "trajectories": trajectory,  # (n_steps, T, 2): mean decoded position per step
        }
    return out


def sample_statistics_section(model, data, conditional: np.ndarray) -> tuple[dict, np.ndarray]:
    """§7.7 against the validation trials: unconditional samples (prior codes) and
    conditional ones (first sample of each validation code); with spikes, Poisson counts of
    the generated rates against the real counts. Also returns the unconditional samples."""
    valid = data.split.valid
    real = data.trials.activity[valid]
    prior = np.asarray(model.sample_prior(len(valid), random_state=_seed(data, "prior")), float)
    if prior.shape != real.shape or not np.all(np.isfinite(prior)):
        raise ValueError(
            f"model.sample_prior returned shape {prior.shape} (finite values "
            f"expected, shape {real.shape})"
        )
    generated = {"unconditional": prior, "conditional": conditional}
    out = {name: metrics.sample_statistics(samples, real) for name, samples in generated.items()}
    if data.trials.spikes is not None:
        for name, samples in generated.items():
            counts = metrics.poisson_counts(
                samples, bin_size_s=data.trials.bin_size_s, random_state=_seed(data, "poisson")
            )
            out[f"{name}_spikes"] = metrics.sample_statistics(counts, data.trials.spikes[valid])
    return out, prior


def run_all(model, data) -> dict:
    """Every step of the protocol, in order."""
    reconstruction, samples = reconstruction_section(model, data)
    decoder, behavior_decoder = decoder_section(data)
    navigated = navigation_section(model, data, behavior_decoder)
    statistics, prior = sample_statistics_section(model, data, samples[:, 0])
    return {
        "code_snr": code_snr_section(data),
        "heldout_targets": heldout_section(data),
        "reconstruction": reconstruction,
        "behavior_decoder": decoder,
        "navigation": navigated,
        "unintended_movement": traversal_section(
            model, data, behavior_decoder, navigated["directions"]
        ),
        "sample_statistics": statistics,
        "figure_data": figure_data(data, samples, prior),
    }


def _plain(value):
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def config(model, data) -> dict:
    """What was evaluated and how: model class and parameters, split sizes, seeds."""
    params = model.get_params() if hasattr(model, "get_params") else {}
    return {
        "model": type(model).__name__,
        "model_params": {key: _plain(value) for key, value in params.items()},
        "seed": data.seed,
        "seed_offsets": SEED_OFFSETS,
        "n_samples": data.n_samples,
        "n_steps": data.n_traversal_steps,
        "window_bins": data.window_bins,
        "bin_size_s": data.trials.bin_size_s,
        "grid_spacing": data.grid_spacing,
        "position_names": list(data.position_names),
        "n_train": len(data.split.train),
        "n_valid": len(data.split.valid),
        "n_heldout": len(data.split.heldout),
        "heldout_conditions": np.unique(data.conditions[data.split.heldout]),
        "code_dim": data.codes.shape[1],
    }


def summary(results: dict, model, evaluate_seconds: float) -> dict:
    """The flat headline numbers of one model (the rows of the comparison table)."""
    names = list(results["code_snr"])  # the protocol's variables, in order
    out = {f"snr_db_{name}": results["code_snr"][name]["snr_db"] for name in names}
    out |= {f"code_r2_{name}": results["code_snr"][name]["r2_valid"] for name in names}
    heldout, navigated = results["heldout_targets"], results["navigation"]
    out |= {
        "heldout_error": heldout["mean_error"],
        "heldout_error_grid": heldout["mean_error_grid"],
        "heldout_r2": heldout["r2"],
        "reconstruction_r2": results["reconstruction"]["pooled_r2"],
        "reconstruction_median_neuron_r2": results["reconstruction"]["median_neuron_r2"],
        "decoder_r2_valid": results["behavior_decoder"]["r2_valid"],
        "orthogonality_cos": navigated["orthogonality"],
        "navigation_endpoint_error": navigated["endpoint_error"],
        "navigation_endpoint_error_grid": navigated["endpoint_error_grid"],
        "navigation_start_error": navigated["start_error"],
        "navigation_psth_r2": navigated["psth_r2"],
    }
    out |= {
        f"unintended_{name}": results["unintended_movement"][name]["unintended"] for name in names
    }
    for kind, stats in results["sample_statistics"].items():
        for key in ("mean_rel_error", "sd_rel_error", "corr_rmse"):
            out[f"{kind}_{key}"] = stats[key]
    out["fit_seconds"] = getattr(model, "fit_seconds_", None)
    out["evaluate_seconds"] = evaluate_seconds
    return out
