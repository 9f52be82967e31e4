"""The steps of the evaluation protocol (DESIGN §7), gathered into one result.

`neurognocchi.evaluation.protocol` gathers the data (``data`` below: raw and whitened codes,
variables named by ``data.variable_names``, split, seeds, K, smoothing) and calls `run_all`,
`config` and `summary`. The read-outs of the codes (§7.1-7.2) are deterministic and use the
codes whitened on the training trials, so that they do not depend on how a model scales or
rotates its codes; the generating steps (`neurognocchi.evaluation.stochastic`) and the floors
(`neurognocchi.evaluation.floors`) run once per sampling seed and are reported as mean ± s.d.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from neurognocchi.evaluation import behavior, floors, metrics, navigation, stochastic
from neurognocchi.evaluation.codes import code_direction_cosines, participation_ratio
from neurognocchi.evaluation.cosmoothing import cosmoothing_section, cosmoothing_summary
from neurognocchi.evaluation.figure_data import code_figure_data, figure_data
from neurognocchi.evaluation.joint import joint_section, joint_summary
from neurognocchi.evaluation.spike_section import spike_floors, spike_section, spike_summary
from neurognocchi.evaluation.uncertainty import mean_and_sd

CANNOT_GENERATE = "cannot generate"  # what stands for a generation number of a codes-only model


def code_section(data) -> dict:
    """§7.1 in the whitened frame: code SNR on held-in trials (conditions = grid targets) and
    the linear read-out R² (ridge on training, R² on validation trials) of every variable
    (``go_time`` too when the trials have it); |cos| between the variables' encoding and
    decoding directions; participation ratio of the between-condition code covariance."""
    heldin, train, valid = data.heldin, data.split.train, data.split.valid
    out = {}
    for name, values in data.code_variables.items():
        snr = metrics.code_snr(data.white[heldin], values[heldin], data.conditions[heldin])
        r2 = metrics.code_regression_r2(
            data.white[train], values[train], data.white[valid], values[valid]
        )
        out[name] = {"snr": snr, "snr_db": metrics.to_db(snr), "r2_valid": r2}
    cosines = code_direction_cosines(
        data.codes[heldin], data.variables[heldin], reference=data.codes[train]
    )
    _, condition_codes = stochastic.condition_means(data, heldin, data.white)
    return {
        "variables": out,
        "encoding_cosines": cosines.encoding,
        "decoding_cosines": cosines.decoding,
        "condition_participation_ratio": participation_ratio(condition_codes),
    }


def heldout_section(data) -> dict:
    """§7.2: ridge whitened code -> target on all held-in trials, applied to held-out trials."""
    heldin, heldout = data.heldin, data.split.heldout
    result = metrics.target_prediction(
        data.white[heldin],
        data.variables[heldin, :2],
        data.white[heldout],
        data.variables[heldout, :2],
        grid_spacing=data.grid_spacing,
    )
    result["true"] = data.variables[heldout, :2]
    return result


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


def _aggregate(per_seed: list[dict]) -> dict:
    """{"mean": {key: m}, "sd": {key: s}, "per_seed": {key: [values]}} over sampling seeds."""
    keys = list(per_seed[0])
    values = {key: [seed[key] for seed in per_seed] for key in keys}
    stats = {key: mean_and_sd(values[key]) for key in keys}
    return {
        "mean": {key: stats[key].mean for key in keys},
        "sd": {key: stats[key].sd for key in keys},
        "per_seed": values,
    }


def _quiet(step: str) -> None:
    """The default ``step`` callback of :func:`run_all`: says nothing."""


def generated_sections(model, data, decoder, directions, step=_quiet) -> dict:
    """§7.3 and 7.5-7.7 for every sampling seed, and the floors (K-matched real trials per
    seed, noise-free once): aggregated numbers, and the arrays of the first seed."""
    nav_plan = stochastic.navigation_plan(data, directions)
    traversals = stochastic.traversal_plans(data, directions)
    per_seed, single_trial, per_neuron, first = [], [], [], {}
    for s in range(data.n_sampling_seeds):
        step(f"sampling seed {s + 1}/{data.n_sampling_seeds}")
        recon, recon_detail = stochastic.reconstruction_metrics(model, data, s)
        nav, nav_detail = stochastic.navigation_metrics(model, data, decoder, nav_plan, s)
        trav, trav_detail = stochastic.traversal_metrics(model, data, decoder, traversals, s)
        conditional = (recon_detail["samples"][:, 0], recon_detail["rates"])
        stats, stats_detail = stochastic.sample_statistics_metrics(model, data, conditional, s)
        per_seed.append(recon | nav | trav | stats)
        per_neuron.append(recon_detail["per_neuron_r2"])
        single_trial.append(floors.single_trial_floor(data, decoder, nav_plan, traversals, s))
        if s == 0:
            first = {
                "samples": recon_detail["samples"],
                "prior": stats_detail["prior"],
                "navigation": nav_detail,
                "traversal": trav_detail,
            }
    return {
        "numbers": _aggregate(per_seed),
        "per_neuron_r2": np.mean(per_neuron, axis=0),
        "navigation_plan": nav_plan,
        "first": first,
        "floors": {
            "single_trial": _aggregate(single_trial),
            "noise_free": floors.noise_free_floor(data, decoder, nav_plan, traversals),
            "noise_free_source": "truth" if data.trials.truth is not None else "condition means",
        },
    }


def codes_only(data, codes: dict, decoder: dict, directions) -> dict:
    """The steps of a model that cannot generate (``output_kind = "codes"``): the code
    read-outs, held-out targets, the (model-free) behaviour decoder and the code directions;
    ``generation`` says why there is nothing else."""
    return {
        "code_snr": codes.pop("variables"),
        "codes": codes,
        "heldout_targets": heldout_section(data),
        "behavior_decoder": decoder,
        "navigation": {"directions": directions, "orthogonality": codes["encoding_cosines"][0, 1]},
        "generation": f"{CANNOT_GENERATE}: the model only encodes trials (output_kind 'codes')",
        "figure_data": code_figure_data(data),
    }


def n_steps(data) -> int:
    """How many times :func:`run_all` calls its ``step`` callback."""
    return 1 if data.output_kind == "codes" else 4 + data.n_sampling_seeds


def run_all(model, data, step: Callable[[str], None] = _quiet) -> dict:
    """Every step of the protocol, in order (the code steps only for a model that cannot
    generate); ``step(name)`` is called as each one starts (:func:`n_steps` times)."""
    step("codes")
    decoder, behavior_decoder = decoder_section(data)
    directions, _ = navigation.navigation_directions(
        data.codes[data.heldin], data.variables[data.heldin]
    )
    codes = code_section(data)
    if data.output_kind == "codes":
        return codes_only(data, codes, decoder, directions)
    found = generated_sections(model, data, behavior_decoder, directions, step)
    step("spike statistics")
    spikes_stats = spike_section(model, data)  # after the others: their draws do not move
    step("co-smoothing")
    cosmoothing = cosmoothing_section(model, data)  # draws nothing
    step("joint behaviour")
    joint = joint_section(model, data, behavior_decoder, directions)  # its own generations
    mean, first, plan = found["numbers"]["mean"], found["first"], found["navigation_plan"]
    return {
        "code_snr": codes.pop("variables"),
        "codes": codes,
        "heldout_targets": heldout_section(data),
        "reconstruction": {
            "reference": data.reference_name,
            "pooled_r2": mean["reconstruction_r2"],
            "per_neuron_r2": found["per_neuron_r2"],
        },
        "behavior_decoder": decoder,
        "navigation": {
            "directions": directions,
            "orthogonality": codes["encoding_cosines"][0, 1],
            "conditions": plan.labels,
            "intended_targets": plan.goals[:, :2],
            "intended_starts": plan.goals[:, 2:],
            "n_sources": np.bincount(plan.goal_of_code, minlength=len(plan.goals)),
            **first["navigation"],
        },
        "unintended_movement": {
            name: first["traversal"][name] | {"unintended": mean[f"unintended_{name}"]}
            for name in data.variable_names
        },
        "sampling": found["numbers"],
        "spikes_stats": spikes_stats,  # the model's own spikes (issue 18), or "skipped"
        "cosmoothing": cosmoothing,  # bits/spike on held-out neurons, or "skipped"
        "joint_behavior": joint,  # generated behaviour vs the decoder (issue 19), or "skipped"
        "floors": found["floors"],
        "figure_data": figure_data(data, first["samples"], first["prior"]),
    }


def _plain(value):
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def config(model, data) -> dict:
    """What was evaluated and how: model class and parameters, split sizes, seeds, K."""
    params = model.get_params() if hasattr(model, "get_params") else {}
    return {
        "model": type(model).__name__,
        "model_params": {key: _plain(value) for key, value in params.items()},
        "output_kind": data.output_kind,
        "training_labels": list(getattr(model, "training_labels_", ())),  # supervised by
        "seed": data.seed,
        "seed_offsets": stochastic.SEED_OFFSETS,
        "n_samples": data.n_samples,
        "n_sampling_seeds": data.n_sampling_seeds,
        "common_noise": data.common_noise,
        "smoothing_sigma_s": None if data.smoothing is None else data.smoothing.sigma_s,
        "reference": data.reference_name,
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
    """The flat headline numbers of one model (the rows of the comparison table); a number
    averaged over sampling seeds has its s.d. under ``<key>_sd``."""
    out = {}
    for name, item in results["code_snr"].items():
        out[f"snr_db_{name}"] = item["snr_db"]
        out[f"code_r2_{name}"] = item["r2_valid"]
    heldout, codes = results["heldout_targets"], results["codes"]
    out |= {
        "heldout_error": heldout["mean_error"],
        "heldout_error_grid": heldout["mean_error_grid"],
        "heldout_r2": heldout["r2"],
        "decoder_r2_valid": results["behavior_decoder"]["r2_valid"],
        "orthogonality_cos": codes["encoding_cosines"][0, 1],
        "decoding_cos": codes["decoding_cosines"][0, 1],
        "condition_participation_ratio": codes["condition_participation_ratio"],
    }
    sampled = results.get("sampling", {"mean": {}})  # none for a model that cannot generate
    for key, value in sampled["mean"].items():
        out[key] = value
        out[f"{key}_sd"] = sampled["sd"][key]
    out |= spike_summary(results.get("spikes_stats"))  # one sampling seed: no _sd
    out |= cosmoothing_summary(results.get("cosmoothing"))
    out |= joint_summary(results.get("joint_behavior"))  # one sampling seed: no _sd
    out["fit_seconds"] = getattr(model, "fit_seconds_", None)
    out["evaluate_seconds"] = evaluate_seconds
    return out


def floor_summaries(results: dict) -> dict:
    """The floors as two summaries (keys as in :func:`summary`): K-matched real trials
    (mean and ``_sd`` over sampling seeds; the spike statistics' ``spikes_*`` keys: their
    real-vs-real floor of two halves of the validation trials) and noise-free references;
    none for a model that cannot generate (the floors are those of the generating steps)."""
    if "floors" not in results:
        return {}
    single = results["floors"]["single_trial"]
    trials = {key: value for key, value in single["mean"].items()}
    trials |= {f"{key}_sd": value for key, value in single["sd"].items()}
    trials |= spike_floors(results.get("spikes_stats"))
    return {"single_trial": trials, "noise_free": dict(results["floors"]["noise_free"])}


MIN_GAIN = 0.1  # below this intended gain a traversal's unintended movement means nothing


def flags(results: dict) -> list[str]:
    """Warnings a reader of the numbers needs: traversals whose output barely follows the
    code (intended gain below 0.1, while real trials of the nearest conditions move)."""
    if "sampling" not in results:
        return []
    mean = results["sampling"]["mean"]
    data_gain = results["floors"]["noise_free"]
    out = []
    for key, gain in mean.items():
        if not key.startswith("intended_gain_") or not np.isfinite(gain) or gain >= MIN_GAIN:
            continue
        name = key.removeprefix("intended_gain_")
        if data_gain.get(key, 0.0) >= MIN_GAIN:
            out.append(
                f"traversing {name}: intended gain {gain:.2f} < {MIN_GAIN} (noise-free "
                f"conditions: {data_gain[key]:.2f}); the output barely follows the code, so "
                "its small unintended movement is no evidence of disentanglement"
            )
    return out
