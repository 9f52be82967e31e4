"""The ``neurognocchi`` command: its parser and entry point.

Each command group is a module holding its sub-commands' parsers and handlers (`data`:
synth, convert, export, info; `models`: fit, encode, generate; `evaluation`: evaluate, table,
report; `augment`; `pipelines`: demo, reference, study). `main` parses the command line and
runs the handler of the sub-command given. Handlers import the heavy parts (torch, the
estimators, MotorNet) when they run, so ``--help`` stays fast, and call the library: run
directories, the model registry and the ``demo`` pipeline are in `neurognocchi.runs`, studies
in `neurognocchi.study`. The command line only parses and prints.

User errors (bad arguments, unreadable files, a run directory that already exists) end with a
one-line message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from neurognocchi.cli import augment, data, evaluation, models, pipelines

__all__ = ["EXIT_USER_ERROR", "GROUPS", "build_parser", "main"]

EXIT_USER_ERROR = 2


#: The command groups, in the order ``--help`` lists them; each registers its sub-commands and
#: their handlers (``args.handler``).
GROUPS = (data, models, evaluation, augment, pipelines)


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``neurognocchi`` command line, one sub-command per handler.

    Examples
    --------
    >>> build_parser().parse_args(["info", "trials.npz"]).command
    'info'
    """
    parser = argparse.ArgumentParser(
        prog="neurognocchi",
        description="GNOCCHI diffusion models of neural population activity.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parsers(subparsers)
    return parser


def _one_line_warning(command: str):
    """A ``warnings.showwarning`` that prints ``neurognocchi <command>: warning: ...`` as one
    line (no source file and line: they are the package's, not the user's)."""

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        print(f"neurognocchi {command}: warning: {text}", file=file or sys.stderr)

    return show


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neurognocchi`` command; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 on a user error (one line on stderr), 130 when interrupted.
    """
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():  # restores the caller's warning display afterwards
            warnings.showwarning = _one_line_warning(args.command)
            args.handler(args)
    except (ValueError, TypeError, OSError, KeyError, ImportError) as error:  # ImportError:
        # an optional extra is missing (e.g. cebra); its message says what to install
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        message = " ".join(str(message).split())  # one line, whatever a library printed
        print(f"neurognocchi {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("neurognocchi: interrupted", file=sys.stderr)
        return 130
    return 0
