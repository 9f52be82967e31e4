"""What several command groups share: output options and the checks of an output path."""

from __future__ import annotations

from pathlib import Path

from neurognocchi._checks import InvalidArgumentError

__all__ = ["add_output_args", "add_size_args", "check_suffix", "refuse_existing"]


def add_output_args(parser, suffix: str) -> None:
    parser.add_argument("--out", required=True, type=Path, help=f"output {suffix} file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")


def add_size_args(parser, n_trials: int, n_neurons: int, n_time: int, time_help: str) -> None:
    parser.add_argument("--n-trials", type=int, default=n_trials)
    parser.add_argument("--n-neurons", type=int, default=n_neurons)
    parser.add_argument("--n-time", type=int, default=n_time, help=time_help)


def refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} already exists; pass --overwrite to replace it")


def check_suffix(path: Path, suffix: str) -> None:
    if path.suffix != suffix:
        raise InvalidArgumentError(f"--out must end in {suffix}; got {str(path)!r}")
