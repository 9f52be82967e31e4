"""The CPU thread policy: OpenMP worker threads sleep at once when they run out of work.

Why. PyTorch's CPU kernels run on OpenMP threads (one per core by default). Between two
parallel regions the GNU OpenMP runtime keeps its idle threads *spinning* for a few hundred
thousand iterations, which pays on an idle machine and is ruinous on a busy one: the spinning
threads take the cores that the working thread and the other processes need. On the 2-core
development machine a 6-epoch toy GNOCCHI fit took 7 s alone and 111 s beside another small
PyTorch training loop (default settings, 15x); with the wait policy below it took 11 s
beside the same process (``benchmarks/bench_contention.py`` measures it).

Policy. ``import neurognocchi`` sets ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep as soon as
they wait) in the process environment, unless

* the user chose a wait policy already (``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT`` or
  ``KMP_BLOCKTIME`` is set), or
* ``NEUROGNOCCHI_THREAD_POLICY=off``, or
* ``torch`` was imported before ``neurognocchi``: the OpenMP runtime reads its settings once,
  when torch loads it, so nothing can change them afterwards. Import ``neurognocchi`` first, or
  set ``OMP_WAIT_POLICY=PASSIVE`` in the shell; :func:`warn_if_spinning_under_load` says so
  when a fit starts on a loaded machine.

This is the package's one action at import time, and it only fills in an unset environment
variable. The number of torch threads is left as torch chooses (one per core; set it with
``torch.set_num_threads``): with sleeping workers, two threads beside a competing process were
as fast as one, and alone they are faster.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping

__all__ = ["OPT_OUT_VARIABLE", "WAIT_POLICY_VARIABLES", "thread_policy"]

#: Environment variables by which a user (or a launcher) has already chosen how threads wait.
WAIT_POLICY_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
#: ``NEUROGNOCCHI_THREAD_POLICY=off`` leaves the environment alone.
OPT_OUT_VARIABLE = "NEUROGNOCCHI_THREAD_POLICY"

_logger = logging.getLogger("neurognocchi")
# What the import of the package did: "applied", "user", "off" or "torch first".
_outcome = "not applied"
_warned = False


def apply_wait_policy(
    environ: MutableMapping[str, str] | None = None, modules: Mapping[str, object] | None = None
) -> str:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` in ``environ`` when nothing prevents it (see the module
    docstring) and return what happened: "applied", "user" (a wait-policy variable is set),
    "off" (the opt-out) or "torch first" (torch already loaded: too late to matter).

    ``environ`` and ``modules`` default to ``os.environ`` and ``sys.modules``.
    """
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    switch = environ.get(OPT_OUT_VARIABLE, "on").strip().lower()
    if switch not in ("on", "off"):
        raise ValueError(
            f"environment variable {OPT_OUT_VARIABLE} must be 'on' or 'off', got {switch!r}"
        )
    if switch == "off":
        return "off"
    if any(name in environ for name in WAIT_POLICY_VARIABLES):
        return "user"
    if "torch" in modules:
        return "torch first"
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return "applied"


def _apply_at_import() -> None:
    """Run :func:`apply_wait_policy` on this process and remember the outcome."""
    global _outcome
    _outcome = apply_wait_policy()


def thread_policy() -> dict:
    """Where this process stands: what ``import neurognocchi`` did to the wait policy
    (``outcome``), the wait-policy variables now set, and torch's thread counts.

    Examples
    --------
    >>> from neurognocchi.threads import thread_policy
    >>> sorted(thread_policy())
    ['environment', 'interop_threads', 'intra_op_threads', 'outcome']
    """
    import torch

    return {
        "outcome": _outcome,
        "environment": {n: os.environ[n] for n in WAIT_POLICY_VARIABLES if n in os.environ},
        "intra_op_threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
    }


def _busy_cpus() -> float:
    """The 1-minute load average (runnable processes), or 0 where the OS has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def warn_if_spinning_under_load() -> bool:
    """Warn once per process when OpenMP threads may spin on a loaded machine: the policy
    could not be applied because torch came first, no wait policy is set, torch runs more than
    one thread and the load average is at least 3/4 of the cores. Returns whether it warned."""
    global _warned
    if _warned or _outcome != "torch first":
        return False
    import torch

    n_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if torch.get_num_threads() < 2 or _busy_cpus() < 0.75 * (n_cpus or 1):
        return False
    _warned = True
    _logger.warning(
        "torch was imported before neurognocchi, so OpenMP threads spin while they wait; "
        "on this loaded machine a fit can run many times slower. Import neurognocchi "
        "before torch, or set OMP_WAIT_POLICY=PASSIVE before starting Python."
    )
    return True
