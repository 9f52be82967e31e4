"""Data layer: the `Trials` container, file readers and writers, dataset generators and
preprocessing (binning and smoothing).

The names below are the user-facing data API. Also importable (not listed): ``train_policy``
(training a new reaching policy; from :mod:`neurognocchi.data.reaching.train_policy`). The
fixture generator ``make_random_target_nwb`` of the tests and benchmarks is in
:mod:`neurognocchi.data.nwb`.
"""

from neurognocchi.data.files import load_trials
from neurognocchi.data.grid import default_heldout_conditions, grid_targets
from neurognocchi.data.mat import load_mat
from neurognocchi.data.memmap import create_memmap, open_memmap, save_memmap
from neurognocchi.data.nwb import load_mc_rtt, load_nwb, save_nwb
from neurognocchi.data.preprocess import bin_spike_times, gaussian_kernel, gaussian_smooth, rebin
from neurognocchi.data.reaching import make_reaching_dataset
from neurognocchi.data.reaching.train_policy import train_policy  # noqa: F401 (not listed)
from neurognocchi.data.toy import make_toy_dataset
from neurognocchi.data.trials import Trials

__all__ = [
    "Trials",
    "bin_spike_times",
    "create_memmap",
    "default_heldout_conditions",
    "gaussian_kernel",
    "gaussian_smooth",
    "grid_targets",
    "load_mat",
    "load_mc_rtt",
    "load_nwb",
    "load_trials",
    "make_reaching_dataset",
    "make_toy_dataset",
    "open_memmap",
    "rebin",
    "save_memmap",
    "save_nwb",
]
