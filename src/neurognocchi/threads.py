"""The CPU thread policy: how OpenMP worker threads wait, measured, and a warning.

PyTorch's CPU kernels run on OpenMP threads (one per core by default). Between two parallel
regions the GNU OpenMP runtime (libgomp, which torch's Linux wheels ship) keeps idle threads
*spinning* before they sleep: 300,000 spins by default, milliseconds. On an idle machine that
is fast; beside another busy process the spinning threads take the cores the work needs, and
two processes that both spin can slow each other by an order of magnitude. Measured on the
2-core development machine (``benchmarks/bench_contention.py``, docs/results.md): beside
another small PyTorch training loop (itself with torch's defaults), a 6-epoch toy GNOCCHI fit
ran 2x to 19x slower than alone with libgomp's default (run to run), 1.3-1.8x with threads
that sleep at once (``OMP_WAIT_POLICY=PASSIVE``) and 1.9-2.3x with a brief spin of
:data:`BRIEF_SPINCOUNT`; alone, sleeping threads made 1000-trial LFADS epochs 2x slower, the
brief spin 1.2-1.5x (GNOCCHI's up to 1.2x).

The policy is ``NEUROGNOCCHI_THREAD_POLICY``, read when ``neurognocchi`` is imported (before
torch: the OpenMP runtime reads its settings once, when torch loads it):

* ``brief`` (the default; ``default`` means the same): set ``GOMP_SPINCOUNT`` to
  :data:`BRIEF_SPINCOUNT`, so waiting threads spin for tens of microseconds, then sleep;
* ``passive``: set ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep at once; best beside other jobs,
  slowest alone);
* ``spin``: leave OpenMP as torch ships it (fastest on a machine nobody else uses).

Nothing is set when the user (or a launcher) has chosen already (``OMP_WAIT_POLICY``,
``GOMP_SPINCOUNT`` or ``KMP_BLOCKTIME`` in the environment), or when torch was imported before
``neurognocchi`` (too late to matter). The variables are inherited by child processes
(``torchrun`` workers, data loaders). How threads wait never changes what they compute, so
the policy cannot change a fitted model; the thread count would, and is left to torch.
``GOMP_SPINCOUNT`` is libgomp's: other OpenMP runtimes (macOS, Windows builds) ignore it.

Whatever the policy, a fit that starts on a loaded machine while threads may spin for long
(no wait setting, more than one torch thread) logs one warning with the remedies
(:func:`warn_if_spinning_under_load`); on a machine shared with other jobs,
``OMP_NUM_THREADS=1`` is the simplest.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping

__all__ = [
    "BRIEF_SPINCOUNT",
    "POLICIES",
    "POLICY_VARIABLE",
    "WAIT_POLICY_VARIABLES",
    "apply_at_import",
    "apply_wait_policy",
    "thread_policy",
]

#: Environment variables by which a user (or a launcher) has already chosen how threads wait.
WAIT_POLICY_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
#: The package's setting: ``NEUROGNOCCHI_THREAD_POLICY`` = one of :data:`POLICIES`.
POLICY_VARIABLE = "NEUROGNOCCHI_THREAD_POLICY"
#: Spins before a waiting libgomp thread sleeps under the ``brief`` policy (libgomp's own
#: default is 300,000). Chosen with ``bench_contention.py`` and ``bench_training.py``: 300
#: spins were as slow as sleeping at once on 1000-trial LFADS epochs; 2000 and more let a
#: fit beside a competitor slow down 2.1-2.6x, against 1.9-2.3x at 1000.
BRIEF_SPINCOUNT = 1000
#: The environment each policy sets (``default`` is ``brief``; ``spin`` sets nothing).
POLICIES = {
    "brief": {"GOMP_SPINCOUNT": str(BRIEF_SPINCOUNT)},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "spin": {},
}

_logger = logging.getLogger("neurognocchi")
# What the import of the package did: "spin", "applied", "user" or "torch first".
_outcome = "spin"
_warned = False


def apply_wait_policy(
    environ: MutableMapping[str, str] | None = None, modules: Mapping[str, object] | None = None
) -> str:
    """Apply ``NEUROGNOCCHI_THREAD_POLICY`` (see the module docstring) to ``environ`` and
    return what happened: "applied" (the policy's variable set), "spin" (the ``spin`` policy:
    nothing to set), "user" (a wait-policy variable was set already) or "torch first" (torch
    already loaded: too late to matter).

    ``environ`` and ``modules`` default to ``os.environ`` and ``sys.modules``.
    """
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    policy = environ.get(POLICY_VARIABLE, "brief").strip().lower()
    policy = "brief" if policy == "default" else policy
    if policy not in POLICIES:
        raise ValueError(
            f"environment variable {POLICY_VARIABLE} must be one of {(*POLICIES, 'default')}, "
            f"got {policy!r}"
        )
    if not POLICIES[policy]:
        return "spin"
    if any(name in environ for name in WAIT_POLICY_VARIABLES):
        return "user"
    if "torch" in modules:
        return "torch first"
    environ.update(POLICIES[policy])
    return "applied"


def apply_at_import() -> None:
    """Run :func:`apply_wait_policy` on this process and remember the outcome for
    :func:`thread_policy` (``import neurognocchi`` calls it, before anything loads torch)."""
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
    """Warn once per process when OpenMP threads may spin for long on a loaded machine: no
    wait setting is in the environment (the ``spin`` policy, or torch imported first), torch
    runs more than one thread and the 1-minute load average is at least 3/4 of the cores.
    Returns whether it warned."""
    global _warned
    if _warned or any(name in os.environ for name in WAIT_POLICY_VARIABLES):
        return False
    import torch

    n_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if torch.get_num_threads() < 2 or _busy_cpus() < 0.75 * (n_cpus or 1):
        return False
    _warned = True
    _logger.warning(
        "this machine is busy and torch's %d OpenMP threads spin for milliseconds while they "
        "wait, which can slow this fit several times over; import neurognocchi before torch "
        "(its thread policy then makes them sleep soon) or start Python with "
        "OMP_NUM_THREADS=1 or OMP_WAIT_POLICY=PASSIVE",
        torch.get_num_threads(),
    )
    return True
