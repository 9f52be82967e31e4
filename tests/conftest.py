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
