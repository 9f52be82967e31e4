"""The CPU thread policy: how OpenMP worker threads wait, measured, and a warning.

PyTorch's CPU kernels run on OpenMP threads (one per core by default). Between two parallel
regions the GNU OpenMP runtime keeps idle threads *spinning* for a while. On an idle machine
that is the fastest choice; beside another busy process the spinning threads take the cores
that the work needs. Measured on the 2-core development machine (``benchmarks/bench_contention.py``
and ``bench_training.py``; docs/results.md):

* beside another small PyTorch training loop, a 6-epoch toy GNOCCHI fit ran 3.2x (and in
  other runs up to 15x) slower than alone with spinning threads, 1.5x with
  ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep at once) and 1.7x with one thread;
* alone, sleeping threads cost 1.2x on that fit and 1.6x (GNOCCHI) to 2.1x (LFADS) on
  1000-trial toy epochs, whose many small operations wake the threads thousands of times;
  one thread was as fast as two spinning ones for LFADS and 15 % slower for GNOCCHI.

So no setting is best everywhere, and the package changes nothing by default. Policies
(``NEUROGNOCCHI_THREAD_POLICY``, read when ``neurognocchi`` is imported, before torch):

* ``default``: leave OpenMP and torch as they are;
* ``passive``: set ``OMP_WAIT_POLICY=PASSIVE`` for a shared machine, unless a wait policy is
  set already (``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT`` or ``KMP_BLOCKTIME``). The OpenMP
  runtime reads it once, when torch loads it, so ``neurognocchi`` must be imported before
  ``torch`` (or set ``OMP_WAIT_POLICY=PASSIVE`` in the shell).

Whatever the policy, a fit that starts on a loaded machine with spinning threads (no wait
policy set, more than one torch thread) logs one warning with these remedies
(:func:`warn_if_spinning_under_load`); on a machine shared with other jobs,
``OMP_NUM_THREADS=1`` is the simplest.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping

__all__ = ["POLICIES", "POLICY_VARIABLE", "WAIT_POLICY_VARIABLES", "thread_policy"]

#: Environment variables by which a user (or a launcher) has already chosen how threads wait.
WAIT_POLICY_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
#: The package's setting: ``NEUROGNOCCHI_THREAD_POLICY`` = one of :data:`POLICIES`.
POLICY_VARIABLE = "NEUROGNOCCHI_THREAD_POLICY"
POLICIES = ("default", "passive")

_logger = logging.getLogger("neurognocchi")
# What the import of the package did: "default", "applied", "user" or "torch first".
_outcome = "default"
_warned = False


def apply_wait_policy(
    environ: MutableMapping[str, str] | None = None, modules: Mapping[str, object] | None = None
) -> str:
    """Apply ``NEUROGNOCCHI_THREAD_POLICY`` (see the module docstring) to ``environ`` and
    return what happened: "default" (nothing asked), "applied" (``OMP_WAIT_POLICY=PASSIVE``
    set), "user" (a wait-policy variable was set already) or "torch first" (torch already
    loaded: too late to matter).

    ``environ`` and ``modules`` default to ``os.environ`` and ``sys.modules``.
    """
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    policy = environ.get(POLICY_VARIABLE, "default").strip().lower()
    if policy not in POLICIES:
        raise ValueError(
            f"environment variable {POLICY_VARIABLE} must be one of {POLICIES}, got {policy!r}"
        )
    if policy == "default":
        return "default"
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
    """Warn once per process when OpenMP threads may spin on a loaded machine: no wait policy
    is set, torch runs more than one thread and the 1-minute load average is at least 3/4 of
    the cores. Returns whether it warned."""
    global _warned
    if _warned or any(name in os.environ for name in WAIT_POLICY_VARIABLES):
        return False
    import torch

    n_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if torch.get_num_threads() < 2 or _busy_cpus() < 0.75 * (n_cpus or 1):
        return False
    _warned = True
    _logger.warning(
        "this machine is busy and torch's %d OpenMP threads spin while they wait, which can "
        "slow this fit several times over; start Python with OMP_NUM_THREADS=1 (or "
        "OMP_WAIT_POLICY=PASSIVE, or NEUROGNOCCHI_THREAD_POLICY=passive and import "
        "neurognocchi before torch)",
        torch.get_num_threads(),
    )
    return True
