"""The CPU thread policy: the settings it makes (never the time they save; that is
benchmarks/bench_contention.py)."""

import json
import logging
import os
import subprocess
import sys

import pytest

from neurognocchi import threads


def _clean_environment(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in threads.WAIT_POLICY_VARIABLES}
    env.pop(threads.POLICY_VARIABLE, None)
    return env | extra


def _policy_in_fresh_process(code_before: str = "", **env) -> dict:
    """``thread_policy()`` of a new interpreter that runs ``code_before`` then imports the
    package, with no wait-policy variable set except ``env``."""
    program = (
        f"{code_before}\nimport json, neurognocchi\n"
        "from neurognocchi.threads import thread_policy\nprint(json.dumps(thread_policy()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", program],
        env=_clean_environment(**env),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_by_default_the_import_makes_waiting_threads_sleep_after_a_brief_spin():
    policy = _policy_in_fresh_process()
    assert policy["outcome"] == "applied"
    assert policy["environment"] == {"GOMP_SPINCOUNT": str(threads.BRIEF_SPINCOUNT)}
    assert 0 < threads.BRIEF_SPINCOUNT < 300_000  # below libgomp's own default


def test_the_passive_policy_is_set_before_torch_loads():
    policy = _policy_in_fresh_process(NEUROGNOCCHI_THREAD_POLICY="passive")
    assert policy["outcome"] == "applied"
    assert policy["environment"] == {"OMP_WAIT_POLICY": "PASSIVE"}
    default = _policy_in_fresh_process()
    assert policy["intra_op_threads"] == default["intra_op_threads"] >= 1  # left to torch


def test_the_spin_policy_leaves_openmp_as_torch_ships_it():
    policy = _policy_in_fresh_process(NEUROGNOCCHI_THREAD_POLICY="spin")
    assert (policy["outcome"], policy["environment"]) == ("spin", {})


@pytest.mark.parametrize("policy", ["brief", "passive"])
def test_a_users_choice_is_kept(policy):
    seen = _policy_in_fresh_process(NEUROGNOCCHI_THREAD_POLICY=policy, GOMP_SPINCOUNT="1")
    assert (seen["outcome"], seen["environment"]) == ("user", {"GOMP_SPINCOUNT": "1"})


def test_nothing_is_set_when_torch_came_first():
    policy = _policy_in_fresh_process("import torch")
    assert (policy["outcome"], policy["environment"]) == ("torch first", {})


def test_child_processes_inherit_the_policy():
    program = (
        "import neurognocchi, os, subprocess, sys\n"
        "print(subprocess.run([sys.executable, '-c', "
        "'import os; print(os.environ.get(\"GOMP_SPINCOUNT\"))'], "
        "capture_output=True, text=True).stdout.strip())"
    )
    out = subprocess.run(
        [sys.executable, "-c", program],
        env=_clean_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == str(threads.BRIEF_SPINCOUNT)


BRIEF = {"GOMP_SPINCOUNT": str(threads.BRIEF_SPINCOUNT)}


@pytest.mark.parametrize(
    ("environ", "modules", "outcome", "added"),
    [
        ({}, {}, "applied", BRIEF),
        ({"NEUROGNOCCHI_THREAD_POLICY": "default"}, {}, "applied", BRIEF),
        (
            {"NEUROGNOCCHI_THREAD_POLICY": " Passive "},
            {},
            "applied",
            {"OMP_WAIT_POLICY": "PASSIVE"},
        ),
        ({"NEUROGNOCCHI_THREAD_POLICY": "spin"}, {}, "spin", {}),
        ({"NEUROGNOCCHI_THREAD_POLICY": "passive", "KMP_BLOCKTIME": "0"}, {}, "user", {}),
        ({"OMP_WAIT_POLICY": "ACTIVE"}, {}, "user", {}),
        ({}, {"torch": object()}, "torch first", {}),
        ({"NEUROGNOCCHI_THREAD_POLICY": "passive"}, {"torch": object()}, "torch first", {}),
    ],
)
def test_apply_wait_policy(environ, modules, outcome, added):
    before = dict(environ)
    assert threads.apply_wait_policy(environ, modules) == outcome
    assert environ == before | added


def test_a_bad_opt_out_value_is_named():
    with pytest.raises(ValueError, match="NEUROGNOCCHI_THREAD_POLICY must be one of"):
        threads.apply_wait_policy({"NEUROGNOCCHI_THREAD_POLICY": "sometimes"}, {})


@pytest.fixture
def spinning(monkeypatch):
    """No wait policy in the environment and no warning given yet."""
    for name in threads.WAIT_POLICY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(threads, "_warned", False)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def test_a_fit_on_a_loaded_machine_warns_once_when_threads_spin(spinning, monkeypatch, caplog):
    import torch

    monkeypatch.setattr(threads, "_busy_cpus", lambda: float(_cores()))
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    with caplog.at_level(logging.WARNING, logger="neurognocchi"):
        assert threads.warn_if_spinning_under_load()
        assert not threads.warn_if_spinning_under_load()  # once per process
    assert len(caplog.records) == 1
    assert "OMP_NUM_THREADS=1" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    ("wait_policy", "load_share", "n_threads"),
    [(None, 0.2, 2), (None, 1.0, 1), ("PASSIVE", 1.0, 2)],
)
def test_no_warning_when_threads_cannot_spin_or_the_machine_is_quiet(
    spinning, monkeypatch, wait_policy, load_share, n_threads
):
    import torch

    if wait_policy is not None:
        monkeypatch.setenv("OMP_WAIT_POLICY", wait_policy)
    monkeypatch.setattr(threads, "_busy_cpus", lambda: load_share * _cores())
    monkeypatch.setattr(torch, "get_num_threads", lambda: n_threads)
    assert not threads.warn_if_spinning_under_load()
