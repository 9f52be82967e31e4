"""What every refusal of the command line must look like (shared by the bad-input tests).

A refused command exits with status 2 and prints one line on stderr, no traceback, and the
folder it was given is byte-for-byte unchanged with nothing added.
"""

from __future__ import annotations

from neurognocchi.cli import main


def snapshot(folder) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def run_cli(argv, capsys, *, warnings_first: bool = False) -> str:
    """Run the CLI, check it failed as a user error, and return its stderr line; with
    ``warnings_first`` that line may follow lines of warnings."""
    assert main([str(arg) for arg in argv]) == 2, argv
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    if warnings_first:
        assert all(line.startswith(f"neurognocchi {argv[0]}: warning: ") for line in lines[:-1])
        lines = lines[-1:]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"neurognocchi {argv[0]}: error: "), err
    return lines[0]


def assert_cli_refuses(argv, message, folder, capsys, *, warnings_first: bool = False) -> None:
    before = snapshot(folder)
    assert message in run_cli(argv, capsys, warnings_first=warnings_first)
    assert snapshot(folder) == before
