"""Data layer: the `Trials` container, file readers and writers, dataset generators and
preprocessing (binning and smoothing).

The names below are the user-facing data API. Also importable (not listed): ``train_policy``
(training a new reaching policy; from :mod:`neurognocchi.data.reaching.train_policy`). The
fixture generator ``make_random_target_nwb`` of the tests and benchmarks is in
:mod:`neurognocchi.data.nwb`.
"""

from neurognocchi._exports import lazy_exports

__all__ = [
    "AlignedTrials",
    "Trials",
    "align_trials",
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
    "split_concatenated",
]

# Each name's module, imported on first use (PEP 562): the readers, the reaching simulator and
# torch load only when needed.
_HOMES = {
    "AlignedTrials": "neurognocchi.data.ragged",
    "align_trials": "neurognocchi.data.ragged",
    "Trials": "neurognocchi.data.trials",
    "bin_spike_times": "neurognocchi.data.preprocess",
    "create_memmap": "neurognocchi.data.memmap",
    "default_heldout_conditions": "neurognocchi.data.grid",
    "gaussian_kernel": "neurognocchi.data.preprocess",
    "gaussian_smooth": "neurognocchi.data.preprocess",
    "grid_targets": "neurognocchi.data.grid",
    "load_mat": "neurognocchi.data.mat",
    "load_mc_rtt": "neurognocchi.data.nwb",
    "load_nwb": "neurognocchi.data.nwb",
    "load_trials": "neurognocchi.data.files",
    "make_reaching_dataset": "neurognocchi.data.reaching",
    "make_toy_dataset": "neurognocchi.data.toy",
    "open_memmap": "neurognocchi.data.memmap",
    "rebin": "neurognocchi.data.preprocess",
    "save_memmap": "neurognocchi.data.memmap",
    "save_nwb": "neurognocchi.data.nwb",
    "split_concatenated": "neurognocchi.data.concatenated",
    "train_policy": "neurognocchi.data.reaching.train_policy",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())
