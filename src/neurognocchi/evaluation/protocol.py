"""The evaluation protocol of DESIGN §7 for any fitted model with ``encode`` and ``generate``.

`VARIABLES` names the behavioural variables the protocol scores; `protocol_split` fixes which
trials are held-in training, held-in validation and held-out conditions; fit models on
``trials[split.train]`` and pass the same split (or the same ``random_state`` and fraction) to
`evaluate`, which never scores a model on the trials it was fitted on when it claims validation
or held-out numbers.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from neurognocchi._checks import (
    InvalidArgumentError,
    check_bool,
    check_int,
    check_random_state,
    check_real,
)
from neurognocchi.data.splits import split_indices
from neurognocchi.data.trials import Trials
from neurognocchi.evaluation import sections
from neurognocchi.evaluation.behavior import position_channels, window_bins
from neurognocchi.evaluation.codes import whiten_codes
from neurognocchi.evaluation.generation import Smoothing, infer_smoothing, output_kind
from neurognocchi.evaluation.metrics import infer_grid_spacing
from neurognocchi.evaluation.serialize import jsonable

# The behavioural variables V of DESIGN §7, in the order of every (..., 4) array of them.
VARIABLES = ("target_x", "target_y", "start_x", "start_y")
CODE_ONLY_VARIABLES = ("go_time",)  # also read out of the codes when the trials have them
REQUIRED_INFO = (*VARIABLES, "condition")  # and "heldout" unless a split is given
MIN_TRAVERSAL_STEPS = 5  # §7.6: a traversal spans the grid in at least 5 steps


class ProtocolSplit(NamedTuple):
    """Sorted trial indices of held-in training, held-in validation and held-out trials."""

    train: np.ndarray
    valid: np.ndarray
    heldout: np.ndarray


def protocol_split(
    trials: Trials, *, valid_fraction: float = 0.2, random_state: int | None = 0
) -> ProtocolSplit:
    """The protocol's split: held-out = ``trial_info["heldout"]``; held-in trials are split at
    random into train and validation, stratified by ``condition`` (when present).

    The held-in split is the one ``trials.split_by_condition()[0].split((1 - valid_fraction,
    valid_fraction), random_state=random_state)`` makes, so models fitted that way are scored
    fairly.

    Parameters
    ----------
    trials : Trials
        With a boolean ``trial_info["heldout"]`` column (e.g. from ``Trials.mark_heldout``).
    valid_fraction : float, default 0.2
        Fraction of held-in trials kept for validation, in (0, 1).
    random_state : int or None, default 0
        Seed of the held-in split (None: fresh entropy).

    Returns
    -------
    ProtocolSplit
        Sorted trial indices ``train``, ``valid`` and ``heldout``.

    Examples
    --------
    >>> from neurognocchi.data import make_toy_dataset
    >>> trials = make_toy_dataset(100, n_neurons=4, n_time=6, random_state=0)
    >>> split = protocol_split(trials, valid_fraction=0.2, random_state=0)
    >>> len(split.train) + len(split.valid) + len(split.heldout) == trials.n_trials
    True
    >>> bool(trials.info("heldout")[split.heldout].all())
    True
    """
    if not isinstance(trials, Trials):
        raise InvalidArgumentError(f"trials must be a Trials; got {type(trials).__name__}")
    if "heldout" not in trials.trial_info:
        raise InvalidArgumentError(
            "trials.trial_info has no 'heldout' column marking held-out trials"
        )
    valid_fraction = check_real(
        valid_fraction, "valid_fraction", low=0.0, high=1.0, low_open=True, high_open=True
    )
    mask = trials.trial_info["heldout"].astype(bool)
    heldin, heldout = np.flatnonzero(~mask), np.flatnonzero(mask)
    if heldout.size == 0 or heldin.size == 0:
        raise InvalidArgumentError(
            f"trials: need held-in and held-out trials; trial_info['heldout'] marks "
            f"{heldout.size} of {trials.n_trials} trials"
        )
    labels = trials.trial_info.get("condition")
    train, valid = split_indices(
        heldin.size,
        (1 - valid_fraction, valid_fraction),
        labels=None if labels is None else labels[heldin],
        random_state=check_random_state(random_state),
    )
    return ProtocolSplit(heldin[train], heldin[valid], heldout)


@dataclass(frozen=True)
class ProtocolData:
    """Everything the protocol's sections read, computed once per evaluation."""

    trials: Trials
    split: ProtocolSplit
    codes: np.ndarray  # (n_trials, code_dim) in the model's frame (what generate takes)
    white: np.ndarray  # (n_trials, code_dim) whitened on the training trials' codes
    variables: np.ndarray  # (n_trials, 4): one column per name of `variable_names`
    code_variables: dict  # name -> (n_trials,): the variables read out of the codes
    conditions: np.ndarray  # (n_trials,)
    positions: np.ndarray  # (n_trials, n_time, 2)
    position_names: tuple[str, str]
    window_bins: int
    grid_spacing: float
    n_samples: int
    n_traversal_steps: int
    seed: int  # the int seed resolved from random_state
    n_sampling_seeds: int
    common_noise: bool
    smoothing: Smoothing | None  # how activity was made from spikes (None: unknown)
    output_kind: str  # "samples", "rates" or "codes" (see neurognocchi.evaluation.generation)
    reference: np.ndarray  # truth smoothed like the data when present, else activity
    reference_name: str
    variable_names: tuple[str, ...] = VARIABLES

    @property
    def heldin(self) -> np.ndarray:
        return np.sort(np.concatenate([self.split.train, self.split.valid]))


def _check_trials(trials) -> None:
    if not isinstance(trials, Trials):
        raise InvalidArgumentError(f"trials must be a Trials; got {type(trials).__name__}")
    missing = [key for key in REQUIRED_INFO if key not in trials.trial_info]
    if missing:
        raise InvalidArgumentError(
            f"trials.trial_info lacks {missing}; the protocol needs {list(REQUIRED_INFO)}"
        )
    if trials.behavior is None:
        raise InvalidArgumentError(
            "trials.behavior is None; the protocol decodes hand position from it"
        )


def _check_split(split, n_trials: int) -> ProtocolSplit:
    parts = [np.asarray(part, dtype=np.intp).ravel() for part in split]
    if len(parts) != 3 or any(part.size == 0 for part in parts):
        raise InvalidArgumentError(
            "split must hold three non-empty index arrays (train, valid, heldout)"
        )
    everything = np.concatenate(parts)
    if everything.min() < 0 or everything.max() >= n_trials:
        raise InvalidArgumentError(
            f"split indices must lie in [0, {n_trials}); got {everything.min()}..{everything.max()}"
        )
    if np.unique(everything).size != everything.size:
        raise InvalidArgumentError("split: train, valid and heldout must not share trials")
    return ProtocolSplit(*(np.sort(part) for part in parts))


def _encode(model, trials: Trials) -> np.ndarray:
    codes = np.asarray(model.encode(trials), dtype=np.float64)
    if codes.ndim != 2 or codes.shape[0] != trials.n_trials:
        raise InvalidArgumentError(
            f"model.encode returned shape {codes.shape}; expected ({trials.n_trials}, code_dim)"
        )
    if not np.all(np.isfinite(codes)):
        raise InvalidArgumentError("model.encode returned NaN or infinite codes")
    return codes


def prepare(
    model,
    trials,
    *,
    split=None,
    valid_fraction=0.2,
    random_state=0,
    n_samples=8,
    n_traversal_steps=5,
    position_names=None,
    grid_spacing=None,
    window_s=0.1,
    n_sampling_seeds=5,
    common_noise=True,
    smooth_sigma_s="infer",
) -> ProtocolData:
    """Check the inputs, encode every trial and gather what the sections need."""
    kind = output_kind(model)
    needed = ("encode",) if kind == "codes" else ("encode", "generate", "sample_prior")
    for method in needed:
        if not callable(getattr(model, method, None)):
            raise InvalidArgumentError(
                f"model must have a method {method}(); {type(model).__name__} lacks it"
            )
    _check_trials(trials)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n_traversal_steps = check_int(
        n_traversal_steps, "n_traversal_steps", minimum=MIN_TRAVERSAL_STEPS
    )
    n_sampling_seeds = check_int(n_sampling_seeds, "n_sampling_seeds", minimum=1)
    common_noise = check_bool(common_noise, "common_noise")
    seed = check_random_state(random_state)
    if split is None:
        split = protocol_split(trials, valid_fraction=valid_fraction, random_state=seed)
    split = _check_split(split, trials.n_trials)
    channels = position_channels(trials.behavior_names, position_names)
    variables = np.stack([trials.info(name).astype(np.float64) for name in VARIABLES], axis=1)
    if not np.all(np.isfinite(variables)):
        raise InvalidArgumentError(f"trials.trial_info columns {list(VARIABLES)} must be finite")
    if grid_spacing is None:
        grid_spacing = infer_grid_spacing(variables[:, 0], variables[:, 1])
    code_variables = {name: variables[:, j] for j, name in enumerate(VARIABLES)}
    for name in CODE_ONLY_VARIABLES:  # read out when present, finite and not constant
        values = trials.info(name).astype(np.float64) if name in trials.trial_info else None
        if values is not None and np.all(np.isfinite(values)):
            if np.ptp(values) > 1e-9 * max(1.0, float(np.abs(values).max())):
                code_variables[name] = values
    smoothing = _smoothing(trials, smooth_sigma_s)
    codes = _encode(model, trials)
    reference, reference_name = _reference(trials, smoothing)
    return ProtocolData(
        trials=trials,
        split=split,
        codes=codes,
        white=whiten_codes(codes, codes[split.train]),
        variables=variables,
        code_variables=code_variables,
        conditions=trials.info("condition"),
        positions=trials.behavior[:, :, channels].astype(np.float64),
        position_names=tuple(trials.behavior_names[i] for i in channels),
        window_bins=window_bins(trials.bin_size_s, window_s),
        grid_spacing=float(grid_spacing),
        n_samples=n_samples,
        n_traversal_steps=n_traversal_steps,
        seed=seed,
        n_sampling_seeds=n_sampling_seeds,
        common_noise=common_noise,
        smoothing=smoothing,
        output_kind=kind,
        reference=reference,
        reference_name=reference_name,
    )


def _smoothing(trials: Trials, smooth_sigma_s) -> Smoothing | None:
    """The data's smoothing: inferred from spikes and activity, given, or None (unknown)."""
    if isinstance(smooth_sigma_s, str) and smooth_sigma_s == "infer":
        return infer_smoothing(trials)
    if smooth_sigma_s is None:
        return None
    sigma = check_real(smooth_sigma_s, "smooth_sigma_s", low=0.0)
    if trials.bin_size_s is None:
        raise InvalidArgumentError("smooth_sigma_s needs trials with a bin_size_s")
    return Smoothing(sigma, float(trials.bin_size_s))


def _reference(trials: Trials, smoothing: Smoothing | None) -> tuple[np.ndarray, str]:
    """Ground truth of conditional means: truth smoothed like the data (E[activity]) when
    the trials have truth, else the activity itself."""
    if trials.truth is None:
        return np.asarray(trials.activity, dtype=np.float64), "activity"
    if smoothing is None:
        return np.asarray(trials.truth, dtype=np.float64), "truth"
    return smoothing.apply(trials.truth), "truth (smoothed like the data)"


def evaluate(
    model,
    trials: Trials,
    *,
    split=None,
    valid_fraction: float = 0.2,
    random_state: int | None = 0,
    n_samples: int = 32,
    n_sampling_seeds: int = 5,
    common_noise: bool = True,
    n_traversal_steps: int = 5,
    position_names=None,
    grid_spacing: float | None = None,
    window_s: float = 0.1,
    smooth_sigma_s: float | str | None = "infer",
    progress: bool | str = False,
) -> dict:
    """Run the whole protocol of DESIGN §7 on a fitted model; return a JSON-ready dict.

    Parameters
    ----------
    model : fitted estimator with ``encode(trials) -> (n_trials, code_dim)``,
        ``generate(codes, n_samples=, random_state=) -> (n_codes, n_samples, T, N)`` and
        ``sample_prior(n, random_state=) -> (n, T, N)``, outputs in the units of activity;
        ``output_kind = "rates"`` marks a model whose outputs are noise-free rates (LFADS),
        default "samples" (see `neurognocchi.evaluation.generation`); ``output_kind =
        "codes"`` one that only encodes (CEBRA): steps 1, 2 and 4 below are run, the
        generating ones are not (no ``generate``/``sample_prior`` needed).
    trials : Trials with ``behavior`` (hand position) and ``trial_info`` holding
        ``target_x, target_y, start_x, start_y, condition, heldout`` (``go_time``: also read
        out of the codes)
    split : (train, valid, heldout) index arrays, optional
        Default :func:`protocol_split` ``(trials, valid_fraction=valid_fraction,
        random_state=random_state)``.
    valid_fraction : float, default 0.2
    random_state : int or None, default 0
        Seed of the split and of every generation (fixed offsets per step and sampling seed);
        None draws one, recorded as ``config["seed"]``.
    n_samples : int, default 32
        Samples K generated per code; behaviour is decoded from their mean.
    n_sampling_seeds : int, default 5
        Every generating step is repeated with this many seeds; its numbers are reported as
        mean and s.d. (``summary[key]`` and ``summary[key + "_sd"]``).
    common_noise : bool, default True
        All codes of one traversal, and all navigated codes, share their random numbers.
    n_traversal_steps : int, default 5
        Steps of each traversal (§7.6), at least 5 (recorded as ``config["n_steps"]``).
    position_names : pair of str, optional
        Behaviour channels of hand position; default: the first of ``hand_x/hand_y``,
        ``finger_x/finger_y``, ``fingertip_x/fingertip_y``, ... present.
    grid_spacing : float, optional
        Spacing of the target grid (default: inferred from the targets).
    window_s : float, default 0.1
        Window (s) of the decoded start (first bins) and endpoint (last bins).
    smooth_sigma_s : "infer", float or None, default "infer"
        S.d. (s) of the Gaussian that made ``activity`` from spikes; "infer" finds it from
        ``spikes`` and ``activity``. Rates of a rate model are smoothed with it (and Poisson
        sampled then smoothed for sample-level numbers), and truth is smoothed with it
        before scoring conditional means. None: unknown, rates are used as returned.
    progress : bool or str, default False
        A progress bar over the protocol's steps on stderr, when it is a terminal (a str: the
        model's name on the bar). It changes no number.

    Returns
    -------
    dict with ``summary`` (flat headline numbers, ``_sd`` over sampling seeds), ``floors``
    (the same numbers for K-matched real trials and noise-free references), one entry per
    protocol step, ``figure_data``, ``config`` and ``step_seconds`` (wall time of each step
    of the progress bar: "prepare" (checks and encoding), "codes", each "sampling seed",
    "spike statistics", "co-smoothing", "joint behaviour"); non-finite numbers are None.
    Every number is invariant to an invertible affine map of the model's codes.

    Notes
    -----
    Trials each step uses (held-in = train + valid):

    1. codes, in the frame whitened on training codes: SNR on held-in trials (conditions =
       ``condition``); read-out R² (ridge on train, R² on valid); |cos| of encoding and
       decoding directions; participation ratio of the condition-mean codes;
    2. held-out targets: ridge on held-in trials, scored on held-out trials;
    3. reconstruction: validation trials, mean of K generations from each own code, against
       the reference and against activity; NLB bits/spike for rate models with spikes;
    4. behaviour decoder: fitted on real training trials, R² on real validation trials;
    5. navigation: directions from held-in trials; each held-out condition is synthesised from
       the mean code of its nearest held-in condition(s) (ties all used), moved by the
       difference in target and in mean start; bias ||mean decoded endpoint - goal|| and
       spread of the samples, PSTH R² against the real held-out trials;
    6. traversals from the mean held-in code over the 5th-95th percentile of each variable:
       unintended movement, intended gain, unintended movement per unit gain;
    7. sample statistics: validation trials vs as many prior samples, and vs the first
       generation from each validation code.
    """
    start = time.perf_counter()
    data = prepare(
        model,
        trials,
        split=split,
        valid_fraction=valid_fraction,
        n_samples=n_samples,
        position_names=position_names,
        grid_spacing=grid_spacing,
        window_s=window_s,
        random_state=random_state,
        n_traversal_steps=n_traversal_steps,
        n_sampling_seeds=n_sampling_seeds,
        common_noise=common_noise,
        smooth_sigma_s=smooth_sigma_s,
    )
    label = progress if isinstance(progress, str) else type(model).__name__
    starts = [("prepare", start)]  # (step, when it started)
    with tqdm(
        total=sections.n_steps(data),
        desc=f"evaluating {label}",
        unit="step",
        disable=None if progress else True,  # None: only on a terminal
        leave=False,
    ) as bar:

        def step(name: str) -> None:
            starts.append((name, time.perf_counter()))
            bar.set_postfix_str(name, refresh=False)
            bar.update(1)

        results = sections.run_all(model, data, step)
    starts.append(("", time.perf_counter()))
    results["config"] = sections.config(model, data)
    results["summary"] = sections.summary(results, model, starts[-1][1] - start)
    results["step_seconds"] = {
        name: end - began for (name, began), (_, end) in itertools.pairwise(starts)
    }
    results["floor_summaries"] = sections.floor_summaries(results)
    results["flags"] = sections.flags(results)
    return jsonable(results)
