"""The README's examples run (Python quickstart) or parse (command line) as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _quickstart_code() -> str:
    text = README.read_text()
    section = text.split("## Quickstart", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert match, "README has no python block under '## Quickstart'"
    return match.group(1)


def test_quickstart_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_quickstart_code(), str(README), "exec"), namespace)
    assert namespace["codes"].shape == (namespace["valid"].n_trials, 8)
    assert namespace["x"].shape[:2] == (4, 2)
    assert namespace["prior"].shape[0] == 5
    same = namespace["same"]
    assert (same.encode(namespace["valid"]) == namespace["codes"]).all()
    assert (tmp_path / "my_run" / "weights.pt").exists()


def test_readme_names_the_two_commands():
    text = README.read_text()
    for command in ("make test", "make demo"):
        assert command in text


@pytest.mark.parametrize("name", ["CHANGELOG.md", "LICENSE"])
def test_project_files_exist(name):
    assert (README.parent / name).is_file()


def test_command_line_examples_parse():
    """Every command of the README's "Command line" block is accepted by the CLI's parser."""
    import shlex

    from neurognocchi.cli import build_parser

    section = README.read_text().split("## Command line", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0] for line in block.splitlines() if line.strip()]
    assert len(commands) >= 8
    for command in commands:
        argv = shlex.split(command.replace("[--quick]", "--quick"))
        assert argv[0] == "neurognocchi", command
        build_parser().parse_args(argv[1:])  # argparse exits (SystemExit) on an unknown option
