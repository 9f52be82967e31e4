"""Shared test fixtures."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module on one torch thread, restoring the setting afterwards.

    Tiny models run fastest on one thread, and several threads thrash on a busy 2-core machine.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True, scope="session")
def _no_loaded_machine_warning():
    """The loaded-machine warning of fits depends on the load average (other tests, other
    jobs): silence it so that outputs compared by tests do not depend on the machine.
    tests/test_threads.py re-enables it where it is the subject."""
    from neurognocchi import threads

    threads._warned = True
    yield
