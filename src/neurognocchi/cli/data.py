"""The data commands: ``synth`` (toy or reaching trials, or a new reaching policy), ``convert``
(a recording -> a trials file), ``export`` (trials or generated samples -> NWB) and ``info``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from neurognocchi._checks import InvalidArgumentError
from neurognocchi.cli.options import add_output_args, add_size_args, check_suffix, refuse_existing

__all__ = ["add_parsers"]


def add_parsers(subparsers) -> None:
    """Register the sub-commands synth, convert, export, info with their handlers."""
    _add_synth(subparsers)
    _add_convert(subparsers)
    _add_export(subparsers)
    _add_info(subparsers)


def _add_synth(subparsers) -> None:
    synth = subparsers.add_parser("synth", help="make a synthetic dataset and save it as .npz")
    kinds = synth.add_subparsers(dest="kind", required=True, metavar="{toy,reaching,train-policy}")
    toy = kinds.add_parser("toy", help="toy reaching trials with known rates (seconds)")
    add_output_args(toy, ".npz")
    add_size_args(toy, 500, 50, 50, "time bins")

    reaching = kinds.add_parser(
        "reaching", help="MotorNet arm reaching to a target grid, driven by the shipped policy"
    )
    add_output_args(reaching, ".npz")
    add_size_args(reaching, 1000, 100, 120, "10 ms simulation steps")
    reaching.add_argument("--bin-size", type=float, default=0.01, help="bin width (s)")
    reaching.add_argument("--policy", type=Path, help="a policy file from synth train-policy")

    policy = kinds.add_parser(
        "train-policy", help="train a new reaching policy (about 30-45 min on one core)"
    )
    add_output_args(policy, ".pt")
    policy.add_argument("--n-updates", type=int, default=2500)
    policy.add_argument("--batch-size", type=int, default=32)
    synth.set_defaults(handler=_synth)


def _synth(args) -> None:
    from neurognocchi import data

    if args.kind == "train-policy":
        _train_policy(args)
        return
    check_suffix(args.out, ".npz")
    refuse_existing(args.out, args.overwrite)
    if args.kind == "toy":
        trials = data.make_toy_dataset(
            args.n_trials, n_neurons=args.n_neurons, n_time=args.n_time, random_state=args.seed
        )
    else:
        trials = data.make_reaching_dataset(
            args.n_trials,
            n_neurons=args.n_neurons,
            n_time=args.n_time,
            bin_size_s=args.bin_size,
            policy_path=args.policy,
            random_state=args.seed,
        )
    trials.save(args.out)
    print(trials)
    print(f"saved {args.out}")


def _train_policy(args) -> None:
    from neurognocchi.data.reaching.train_policy import PolicyTrainConfig, train_policy

    check_suffix(args.out, ".pt")
    refuse_existing(args.out, args.overwrite)
    config = PolicyTrainConfig(n_updates=args.n_updates, batch_size=args.batch_size, seed=args.seed)
    history = train_policy(args.out, train_config=config)
    print(
        f"policy saved to {args.out} after {len(history['loss'])} updates; final mean "
        f"distance to target {history['distance_cm'][-1]:.2f} cm"
    )


def _add_convert(subparsers) -> None:
    convert = subparsers.add_parser(
        "convert",
        help="turn a recording (.nwb, .mat, .npy, .npz) into a trials .npz",
        description="Read a recording, bin and smooth its spikes into trials, optionally mark "
        "held-out conditions, and save it as a trials .npz that fit, encode and evaluate read. "
        "An .npz of trials of different lengths (spikes [total_bins, n_neurons] and "
        "trial_offsets [n_trials + 1]) is cropped to one window around --align.",
    )
    convert.add_argument("path", type=Path, help="recording: .nwb, .mat, .npy or .npz")
    convert.add_argument("--out", required=True, type=Path, help="output trials .npz")
    convert.add_argument(
        "--bin-size",
        type=float,
        default=0.02,
        help="bin width (s): NWB/.mat spikes are binned to it; plain arrays are declared at it",
    )
    convert.add_argument(
        "--smooth",
        type=float,
        default=0.04,
        help="NWB/.mat/trials of different lengths: Gaussian s.d. (s); 0: none",
    )
    convert.add_argument(
        "--align",
        default="auto",
        help="NWB: trials-table column to align on; trials of different lengths: start, end or "
        "a per-trial column of event bins (auto: start)",
    )
    convert.add_argument(
        "--window",
        type=float,
        nargs=2,
        metavar=("START", "STOP"),
        help="window around the alignment time (s); NWB default -0.2 0.5; trials of different "
        "lengths: default the widest window every trial covers",
    )
    convert.add_argument(
        "--drop-short",
        action="store_true",
        help="trials of different lengths: drop the trials --window does not fit in (default: "
        "refuse them)",
    )
    convert.add_argument("--variable", help=".mat: the variable holding the trials")
    convert.add_argument(
        "--heldout", nargs="+", metavar="VALUE", help="condition values to mark as held out"
    )
    convert.add_argument("--condition-key", default="condition", help="column --heldout reads")
    convert.add_argument("--overwrite", action="store_true", help="replace an existing file")
    convert.set_defaults(handler=_convert)


def _parse_value(text: str):
    """A value of a numeric condition column from the command line: an int or a float."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _read_recording(args):
    """The trials of ``args.path`` through `neurognocchi.data.load_trials`, with the options
    of the recording's reader taken from the command line."""
    from neurognocchi.data import load_trials

    path, smooth = args.path, args.smooth or None
    if path.suffix == ".npz" and _holds_trial_offsets(path):
        return _read_concatenated(args)
    if args.drop_short:
        raise InvalidArgumentError(
            "--drop-short applies to trials of different lengths (an .npz with trial_offsets)"
        )
    if path.suffix == ".nwb":
        window = (-0.2, 0.5) if args.window is None else tuple(args.window)
        options = {"align": args.align, "window_s": window, "smooth_sigma_s": smooth}
    elif path.suffix == ".mat":
        options = {"smooth_sigma_s": smooth, "variable": args.variable}
    else:
        options = {}
    return load_trials(path, bin_size_s=args.bin_size, **options)


def _holds_trial_offsets(path: Path) -> bool:
    """Whether the ``.npz`` at ``path`` holds a ``trial_offsets`` array (False when it is not
    a readable archive: `load_trials` says what is wrong with it)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "trial_offsets.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _read_concatenated(args):
    """Trials of different lengths cropped to one window; prints what was kept and dropped."""
    from neurognocchi.data.concatenated import read_concatenated
    from neurognocchi.data.npz import read_npz

    try:
        aligned = read_concatenated(
            read_npz(args.path),
            align="start" if args.align == "auto" else args.align,
            window_s=None if args.window is None else tuple(args.window),
            too_short="drop" if args.drop_short else "raise",
            smooth_sigma_s=args.smooth or None,
            bin_size_s=args.bin_size,
        )
    except InvalidArgumentError as error:  # name the command line's options
        message = str(error).replace("too_short='drop'", "--drop-short")
        raise InvalidArgumentError(f"{str(args.path)!r}: {message}") from None
    print(aligned.describe())
    return aligned.trials


def _convert(args) -> None:
    check_suffix(args.out, ".npz")
    refuse_existing(args.out, args.overwrite)
    if args.out.resolve() == args.path.resolve():
        raise InvalidArgumentError("--out must differ from the input path")
    trials = _read_recording(args)
    if args.heldout:
        numeric = trials.info(args.condition_key).dtype.kind != "U"
        values = [_parse_value(text) for text in args.heldout] if numeric else args.heldout
        trials = trials.mark_heldout(values, key=args.condition_key)
    trials.save(args.out)
    print(trials)
    print(f"saved {args.out}")


def _add_export(subparsers) -> None:
    export = subparsers.add_parser(
        "export",
        help="write trials (.npz of synth/convert) or generated samples (.npz of generate) to "
        "an NWB file",
        description="Write a trials file (spike counts -> NWB units, trials and behaviour, as "
        "save_nwb) or the samples of `neurognocchi generate` (-> an NWB TimeSeries and a trials "
        "table, as save_samples_nwb) to an NWB file with session and subject metadata.",
    )
    export.add_argument("input", type=Path, help="trials file or generated-samples .npz")
    export.add_argument("--out", required=True, type=Path, help="output .nwb file")
    export.add_argument("--overwrite", action="store_true", help="replace an existing file")
    export.add_argument(
        "--bin-size",
        type=float,
        help="bin width (s): needed for generated samples and for trials that do not record it",
    )
    export.add_argument(
        "--unit",
        help="generated samples: their unit (default Hz; spikes or "
        "counts per bin for generate --output spikes / rates)",
    )
    export.add_argument("--experimenter", action="append", help='"Last, First" (repeatable)')
    export.add_argument("--institution")
    export.add_argument("--lab")
    export.add_argument("--keywords", nargs="+", help="replace the default keywords")
    export.add_argument("--session-description")
    export.add_argument("--experiment-description")
    export.add_argument("--subject-id")
    export.add_argument("--species", help='e.g. "Macaca mulatta" (Latin binomial)')
    export.add_argument("--sex", choices=["M", "F", "U", "O"])
    export.add_argument("--age", help='ISO 8601 duration, e.g. "P8Y"')
    export.set_defaults(handler=_export)


def _read_samples(path: Path) -> dict | None:
    """The arrays of a generated-samples ``.npz`` (``samples`` and optionally ``codes``, as
    `_generate` writes), or None when ``path`` is not one (trials files have ``activity``)."""
    from neurognocchi.data.npz import read_npz

    if path.suffix != ".npz" or not zipfile.is_zipfile(path):
        return None  # load_trials reads (or says what is wrong with) everything else
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name.removesuffix(".npy") for name in archive.namelist()}
    except zipfile.BadZipFile:
        return None
    if "samples" not in names or "activity" in names:
        return None
    return read_npz(path)


def _export_metadata(args) -> dict:
    """The metadata options of ``export`` as keyword arguments of the NWB writers."""
    subject = {
        "subject_id": args.subject_id,
        "species": args.species,
        "sex": args.sex,
        "age": args.age,
    }
    return dict(
        experimenter=args.experimenter,
        institution=args.institution,
        lab=args.lab,
        keywords=args.keywords,
        session_description=args.session_description,
        experiment_description=args.experiment_description,
        subject={key: value for key, value in subject.items() if value is not None},
    )


def _export(args) -> None:
    check_suffix(args.out, ".nwb")
    refuse_existing(args.out, args.overwrite)
    if not args.input.exists():
        raise FileNotFoundError(f"no such file: {str(args.input)!r}")
    if args.out.resolve() == args.input.resolve():
        raise InvalidArgumentError("--out must differ from the input path")
    samples = _read_samples(args.input)
    if samples is not None:
        _export_samples(args, samples)
    else:
        _export_trials(args)


_SAMPLE_UNITS = {"activity": "Hz", "rates": "expected spikes per bin", "spikes": "spikes per bin"}


def _export_samples(args, arrays: dict) -> None:
    from neurognocchi.data.nwb import save_samples_nwb

    if args.bin_size is None:
        raise InvalidArgumentError(
            "--bin-size is needed: a generated-samples .npz does not record it"
        )
    samples = arrays["samples"]
    # The unit of what `generate --output` wrote (files written before it hold activity).
    unit = _SAMPLE_UNITS.get(str(arrays.get("output", "activity")), "Hz")
    options = dict(bin_size_s=args.bin_size, codes=arrays.get("codes"), unit=args.unit or unit)
    options |= _export_metadata(args)
    save_samples_nwb(samples, args.out, overwrite=args.overwrite, **options)
    print(f"saved samples {samples.shape} (codes, samples, time, neurons) to {args.out}")


def _export_trials(args) -> None:
    from neurognocchi.data import load_trials, save_nwb

    if args.unit is not None:
        raise InvalidArgumentError(
            "--unit applies to generated samples; trials are written as spikes"
        )
    trials = load_trials(args.input, bin_size_s=args.bin_size)
    if trials.spikes is None:
        raise InvalidArgumentError(
            f"{str(args.input)!r} has no spike counts; export writes spike times"
        )
    if trials.bin_size_s is None:
        raise InvalidArgumentError(f"--bin-size is needed: {str(args.input)!r} does not record it")
    if args.bin_size is not None and not np.isclose(args.bin_size, trials.bin_size_s):
        raise InvalidArgumentError(
            f"--bin-size {args.bin_size:g} differs from the bin width of {str(args.input)!r}, "
            f"{trials.bin_size_s:g} s"
        )
    save_nwb(trials, args.out, overwrite=args.overwrite, **_export_metadata(args))
    print(trials)
    print(f"saved {args.out}")


def _add_info(subparsers) -> None:
    info = subparsers.add_parser("info", help="describe a trials file (.npz/.npy)")
    info.add_argument("path", type=Path)
    info.set_defaults(handler=_info)


def _info(args) -> None:
    from neurognocchi.data.files import describe_file

    print(describe_file(args.path))
