"""Decoders trained on synthetic conditions (issue 19, item 2): does activity a model
synthesises for conditions it never saw help a behaviour decoder on those conditions?

A behaviour decoder (``"ridge"`` over time bins, or a small ``"gru"``; see
:mod:`neurognocchi.experiments.decoders`) is trained on

(i)   the real held-in training trials (the evaluation protocol's ``split.train``) only;
(ii+) (i) plus trials each model synthesises for every held-out condition, by navigation (the
      protocol's navigated codes, from the nearest held-in conditions to the condition's
      target, with the held-in training trials' mean start: no held-out trial is read),
      ``multiple`` times as many per condition as there are real trials per held-in condition.
      Their behaviour labels are the model's own generated behaviour when it has some
      (``GNOCCHI(joint_behavior=True)``: "generated"), else the interpolated behaviour of (iv)
      ("interpolated");
(iv)  (i) plus a naive synthesis: each held-out condition's neighbours (the nearest held-in
      targets, ties all used) give its activity PSTH as the mean of theirs and its hand path as
      the mean of their mean paths, each re-aimed at the condition's target
      (:func:`aimed_path`); each synthetic trial is that PSTH and path plus the residuals of one
      random neighbour trial;
(v)   (i) plus real trials of the held-out conditions: the upper bound.

Every decoder is tested on the same **real held-out-condition test trials**: half of each
held-out condition's trials (drawn with ``random_state``); the other half is (v)'s extra
training data and is used nowhere else. No real held-out-condition trial enters any other
training set, and none of the test trials any training set (``result["indices"]`` lists
them; tested). Scores: position R² and endpoint error (:func:`~.decoders.scores`), each
mean ± s.d. over ``seeds`` (the synthesis draws and the GRU's initialisation and batches).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from neurognocchi._checks import InvalidArgumentError, check_int, check_random_state, check_seeds
from neurognocchi.evaluation.behavior import position_channels, window_bins
from neurognocchi.evaluation.generation import generate_activity, output_kind
from neurognocchi.evaluation.navigation import (
    navigated_codes,
    navigation_directions,
    nearest_conditions,
)
from neurognocchi.evaluation.protocol import prepare, protocol_split
from neurognocchi.evaluation.serialize import jsonable
from neurognocchi.evaluation.stochastic import condition_means
from neurognocchi.evaluation.uncertainty import mean_and_sd
from neurognocchi.experiments.decoders import DECODERS, fit_decoder, scores

__all__ = [
    "aimed_path",
    "augment_decoder",
    "augment_markdown",
    "combine_results",
    "heldout_halves",
    "naive_synthesis",
    "paired_rows",
]

REAL, NAIVE, BOUND = "real held-in only", "+ naive (neighbours' PSTHs)", "+ real held-out (bound)"
METRICS = ("position_r2", "endpoint_error")


def heldout_halves(trials, split, *, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Each held-out condition's trials in two halves (stratified): (v)'s extra training
    trials and the test trials, as sorted indices into ``trials``."""
    heldout = np.asarray(split.heldout)
    first, second = trials[heldout].split_indices((0.5, 0.5), random_state=random_state)
    return np.sort(heldout[first]), np.sort(heldout[second])


def _targets(trials, index) -> tuple[np.ndarray, np.ndarray]:
    """Condition labels among trials ``index`` and each condition's mean (target_x, target_y)."""
    labels = trials.info("condition")[index]
    targets = np.stack([trials.info("target_x"), trials.info("target_y")], axis=1)[index]
    unique = np.unique(labels)
    return unique, np.stack([targets[labels == c].mean(0) for c in unique])


def _arrays(trials, index, channels) -> tuple[np.ndarray, np.ndarray]:
    """Activity (n, T, N) and the position channels of the behaviour (n, T, 2) of trials
    ``index``, float64."""
    return (
        np.asarray(trials.activity[index], dtype=np.float64),
        np.asarray(trials.behavior[index][..., channels], dtype=np.float64),
    )


class _Neighbours:
    """Held-in training conditions' PSTHs (activity, positions) and their trials' residuals."""

    def __init__(self, trials, train, channels):
        self.train = np.asarray(train)
        self.labels, self.targets = _targets(trials, self.train)
        conditions = trials.info("condition")[self.train]
        self.activity, self.positions = _arrays(trials, self.train, channels)
        self.of_trial = np.searchsorted(self.labels, conditions)  # condition row of each trial
        self.psth = [
            np.stack([x[self.of_trial == i].mean(0) for i in range(len(self.labels))])
            for x in (self.activity, self.positions)
        ]

    def interpolated(self, goal) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows of the nearest conditions to ``goal`` (x, y), the mean of their activity PSTHs
        and the mean of their hand paths each aimed at ``goal`` (:func:`aimed_path`)."""
        goal = np.asarray(goal, dtype=np.float64)
        rows = nearest_conditions(self.targets, goal)
        paths = [aimed_path(self.psth[1][r], self.targets[r], goal) for r in rows]
        return rows, self.psth[0][rows].mean(0), np.mean(paths, axis=0)


def aimed_path(path: np.ndarray, target: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """A mean hand path (T, 2) toward ``target`` re-aimed at ``goal``: each bin moves by
    ``f(t) (goal - target)``, where ``f`` is the share of the path's final displacement covered
    by then (0 at the start, 1 at the end; 0 throughout for a path that does not move).

    Examples
    --------
    >>> path = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    >>> aimed_path(path, np.array([2.0, 0.0]), np.array([2.0, 2.0])).tolist()
    [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]
    """
    moved = path - path[0]  # (T, 2)
    total = moved[-1]
    norm = float(total @ total)
    share = np.clip(moved @ total / norm, 0.0, 1.0) if norm > 0 else np.zeros(len(path))
    return path + share[:, None] * (np.asarray(goal) - np.asarray(target))[None]


def naive_synthesis(neighbours: _Neighbours, goals, n_per_goal: int, rng):
    """(iv) for every goal: ``n_per_goal`` trials of the interpolated PSTH plus one random
    neighbour trial's residual; returns activity, positions and the source trials' indices."""
    activity, positions, sources = [], [], []
    for goal in goals:
        rows, psth, path = neighbours.interpolated(goal)
        pool = np.flatnonzero(np.isin(neighbours.of_trial, rows))
        chosen = rng.choice(pool, size=n_per_goal, replace=True)
        own = neighbours.of_trial[chosen]
        activity.append(psth + neighbours.activity[chosen] - neighbours.psth[0][own])
        positions.append(path + neighbours.positions[chosen] - neighbours.psth[1][own])
        sources.append(neighbours.train[chosen])
    return np.concatenate(activity), np.concatenate(positions), np.concatenate(sources)


def _navigation(model, trials, split, goals, seed: int):
    """The protocol's navigated codes for ``model`` (:func:`~neurognocchi.evaluation.
    stochastic.navigation_plan`), one group per goal target (n_goals, 2), with the held-in
    training trials' mean start position as every goal's start: nothing of a real held-out
    trial (the test trials' start positions included) moves a synthetic trial."""
    data = prepare(model, trials, split=split, random_state=seed, n_samples=1, n_sampling_seeds=1)
    heldin = data.heldin
    directions, _ = navigation_directions(data.codes[heldin], data.variables[heldin])
    _, source_codes = condition_means(data, heldin, data.codes)
    _, source_values = condition_means(data, heldin)
    start = data.variables[split.train][:, 2:].mean(axis=0)
    codes = []
    for goal in goals:
        nearest = nearest_conditions(source_values[:, :2], goal)
        codes.append(
            navigated_codes(
                source_codes[nearest],
                source_values[nearest],
                np.concatenate([goal, start]),
                directions,
            )
        )
    return data, codes


def model_synthesis(model, navigation, neighbours: _Neighbours, goals, n_per_goal: int, seed: int):
    """(ii+) for ``model``: ``n_per_goal`` trials per goal target (n_goals, 2) generated from
    its navigated codes (``navigation``, :func:`_navigation`'s; independent noise, seeded), with
    generated or interpolated positions. Returns activity, positions and the label kind."""
    data, navigated = navigation
    joint = bool(getattr(model, "behavior_names_", ()))
    if joint:
        joint_channels = position_channels(model.behavior_names_, data.position_names)
    activity, positions = [], []
    for i, (goal, codes) in enumerate(zip(goals, navigated, strict=True)):
        k, draw = math.ceil(n_per_goal / len(codes)), seed + 7919 * (i + 1)
        if joint:
            act, beh = model.generate(codes, n_samples=k, random_state=draw, return_behavior=True)
            path = np.asarray(beh, dtype=np.float64)[..., joint_channels]
        else:
            act = generate_activity(
                model,
                codes,
                n_samples=k,
                random_state=draw,
                common_noise=False,
                smoothing=data.smoothing,
            )
            act = act.samples  # (n_codes, k, T, N): Poisson-smoothed for a rate model
            path = np.broadcast_to(neighbours.interpolated(goal)[2], (*act.shape[:3], 2))
        flat = np.asarray(act, dtype=np.float64).reshape(-1, *act.shape[2:])[:n_per_goal]
        activity.append(flat)
        positions.append(np.asarray(path).reshape(-1, *path.shape[2:])[:n_per_goal])
    kind = "generated" if joint else "interpolated"
    return np.concatenate(activity), np.concatenate(positions), kind


def _check_models(models) -> dict:
    if not isinstance(models, Mapping) or not models:
        raise InvalidArgumentError("models must be a non-empty dict of name -> fitted model")
    for name, model in models.items():
        if output_kind(model) == "codes":
            raise InvalidArgumentError(f"models: {name!r} cannot generate (output_kind 'codes')")
    return dict(models)


def augment_decoder(
    models,
    trials,
    *,
    random_state: int = 0,
    seeds=(0, 1, 2),
    multiples=(1, 3),
    decoders=DECODERS,
    position_names=None,
    window_s: float = 0.1,
) -> dict:
    """Run the experiment (see the module docstring) and return its JSON-able results.

    Parameters
    ----------
    models : dict of name -> fitted model
        Generating models fitted on the protocol's held-in training trials of ``trials``
        (split with ``random_state``); e.g. ``{"GNOCCHI": ..., "LFADS": ...}``.
    trials : Trials
        With behaviour, a ``heldout`` flag and the protocol's ``trial_info`` columns.
    random_state : int
        Seed of the protocol split and of the held-out halves (fixed over ``seeds``).
    seeds : sequence of int
        One repetition per seed: synthesis draws and the GRU decoder's seed.
    multiples : sequence of int
        Synthetic trials per held-out condition, as multiples of the real trials per held-in
        condition.
    decoders : sequence of {"ridge", "gru"}
    position_names, window_s
        The decoded channels (default: the protocol's) and the endpoint window.

    Returns
    -------
    dict: ``rows`` (one per training set, decoder and multiple: mean, s.d. and values of each
    metric over seeds), ``gap_closed`` (per model, decoder and multiple: the share of the R²
    gap between (i) and (v) that the model's synthetic trials close), ``labels`` (generated or
    interpolated, per model), ``indices`` and the settings.
    """
    models = _check_models(models)
    split_seed = check_random_state(random_state)
    seeds = check_seeds(seeds)
    multiples = [check_int(m, "multiples", minimum=1) for m in multiples]
    if len(set(multiples)) != len(multiples):
        raise InvalidArgumentError(f"multiples must be distinct; got {multiples}")
    decoders = list(decoders)
    for kind in decoders:
        if kind not in DECODERS:
            raise InvalidArgumentError(f"decoders: {kind!r} is not one of {list(DECODERS)}")
    split = protocol_split(trials, random_state=split_seed)
    channels = position_channels(trials.behavior_names, position_names)
    bound_train, test = heldout_halves(trials, split, random_state=split_seed)
    neighbours = _Neighbours(trials, split.train, channels)
    _, goals = _targets(trials, split.heldout)  # the held-out conditions' targets
    n_per_condition = round(len(split.train) / len(neighbours.labels))
    bins = window_bins(trials.bin_size_s, window_s)
    real, bound = _arrays(trials, split.train, channels), _arrays(trials, bound_train, channels)
    test_x, test_y = _arrays(trials, test, channels)
    results, labels, naive_sources = [], {}, []
    navigations = {
        name: _navigation(model, trials, split, goals, split_seed) for name, model in models.items()
    }  # the same for every seed and multiple

    def score(name, multiple, extra, seed):
        x = real[0] if extra is None else np.concatenate([real[0], extra[0]])
        y = real[1] if extra is None else np.concatenate([real[1], extra[1]])
        for kind in decoders:
            decoder = fit_decoder(kind, x, y, random_state=seed)
            numbers = scores(decoder, test_x, test_y, window_bins=bins)
            results.append(
                {"set": name, "decoder": kind, "multiple": multiple, "seed": seed, **numbers}
            )

    for seed in seeds:
        score(REAL, None, None, seed)
        score(BOUND, None, bound, seed)
        for multiple in multiples:
            n_per_goal = multiple * n_per_condition
            for name, model in models.items():
                act, pos, labels[name] = model_synthesis(
                    model, navigations[name], neighbours, goals, n_per_goal, seed
                )
                score(f"+ {name}", multiple, (act, pos), seed)
            rng = np.random.default_rng(np.random.SeedSequence([seed, multiple, 19]))
            *naive, sources = naive_synthesis(neighbours, goals, n_per_goal, rng)
            naive_sources.append(sources)
            score(NAIVE, multiple, naive, seed)
    rows = _aggregate(results)
    return jsonable(
        {
            "rows": rows,
            "paired_rows": paired_rows(results),
            "gap_closed": _gap_closed(rows, models, decoders, multiples),
            "labels": labels,
            "per_seed": results,
            "indices": {
                "train": split.train.tolist(),
                "bound_train": bound_train.tolist(),
                "test": test.tolist(),
                "naive_sources": np.unique(np.concatenate(naive_sources)).tolist(),
            },
            "n_real_per_condition": n_per_condition,
            "settings": {
                "random_state": split_seed,
                "seeds": seeds,
                "multiples": multiples,
                "decoders": decoders,
                "window_bins": bins,
            },
        }
    )


def combine_results(results) -> dict:
    """Results of :func:`augment_decoder` for several training seeds (models fitted with each
    seed, e.g. one ``neurognocchi augment`` per seed) as one: rows and gaps over every
    repetition of every result (``per_seed`` entries gain ``"training_seed"``: its index)."""
    results = list(results)
    if not results:
        raise InvalidArgumentError("results must hold at least one augment_decoder result")
    settings = results[0]["settings"]
    per_seed = [
        row | {"training_seed": i} for i, result in enumerate(results) for row in result["per_seed"]
    ]
    rows = _aggregate(per_seed)
    names = list(results[0]["labels"])
    return jsonable(
        {
            "rows": rows,
            "paired_rows": paired_rows(per_seed),
            "gap_closed": _gap_closed(rows, names, settings["decoders"], settings["multiples"]),
            "labels": results[0]["labels"],
            "per_seed": per_seed,
            "settings": settings | {"n_training_seeds": len(results)},
        }
    )


def paired_rows(per_seed: list[dict]) -> list[dict]:
    """Rows of the differences from (i), each repetition paired with (i) of the same training
    seed, seed and decoder (mean, s.d. and values over them): what a set adds to real trials."""

    def base(r):
        return r.get("training_seed", 0), r["seed"], r["decoder"]

    real = {base(r): r for r in per_seed if r["set"] == REAL}
    deltas = [
        r | {m: r[m] - real[base(r)][m] for m in METRICS} for r in per_seed if r["set"] != REAL
    ]
    return _aggregate(deltas)


def _aggregate(results: list[dict]) -> list[dict]:
    keys = list(dict.fromkeys(_key(r) for r in results))
    rows = []
    for key in keys:
        mine = [r for r in results if _key(r) == key]
        row = dict(zip(("set", "decoder", "multiple"), key, strict=True))
        for metric in METRICS:
            values = [r[metric] for r in mine]
            stats = mean_and_sd(values)
            row[metric] = {"mean": stats.mean, "sd": stats.sd, "values": values}
        rows.append(row)
    return rows


def _key(row: dict) -> tuple:
    return row["set"], row["decoder"], row["multiple"]


def _find(rows, name, kind, multiple):
    return next(r for r in rows if _key(r) == (name, kind, multiple))


def _gap_closed(rows, models, decoders, multiples) -> dict:
    """(R²(model) - R²(i)) / (R²(v) - R²(i)) per model, decoder and multiple (means)."""
    out = {}
    for kind in decoders:
        low = _find(rows, REAL, kind, None)["position_r2"]["mean"]
        high = _find(rows, BOUND, kind, None)["position_r2"]["mean"]
        for name in [*models, "naive"]:
            label = NAIVE if name == "naive" else f"+ {name}"
            for multiple in multiples:
                value = _find(rows, label, kind, multiple)["position_r2"]["mean"]
                gap = high - low
                out[f"{name}/{kind}/{multiple}x"] = (value - low) / gap if gap > 0 else None
    return out


def augment_markdown(result: dict, *, paired: bool = False) -> str:
    """The five-way table: one row per training set (and multiple), per decoder position R²
    and endpoint error as mean ± s.d. over seeds; ``paired``: their differences from (i)
    (:func:`paired_rows`)."""
    from neurognocchi.evaluation.comparison import format_value

    decoders, rows = result["settings"]["decoders"], result["paired_rows" if paired else "rows"]
    labels = ("ΔR²", "Δ endpoint error") if paired else ("R²", "endpoint error")
    header = ["training set", "synthetic per condition"]
    header += [f"{kind} {label}" for kind in decoders for label in labels]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for name, multiple in dict.fromkeys((r["set"], r["multiple"]) for r in rows):
        cells = [name, "—" if multiple is None else f"{multiple}×"]
        for kind in decoders:
            row = _find(rows, name, kind, multiple)
            for m in METRICS:
                mean, sd = row[m]["mean"], row[m]["sd"]
                text = format_value(mean, "+.3f" if paired else ".3f")
                cells.append(text if sd is None or text == "n/a" else f"{text} ± {sd:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
