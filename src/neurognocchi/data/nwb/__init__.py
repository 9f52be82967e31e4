"""NWB files: read units, trials and behaviour into `Trials`; trialise MC_RTT; export `Trials`
and generated samples.

* :mod:`~neurognocchi.data.nwb.read`: :func:`load_nwb`, the generic NLB-layout reader;
* :mod:`~neurognocchi.data.nwb.windows`: the trials it cuts out of a recording (windows around
  alignment times, which of them every unit observes, what was dropped and why);
* :mod:`~neurognocchi.data.nwb.mc_rtt`: :func:`load_mc_rtt`, reaches of a continuous session;
* :mod:`~neurognocchi.data.nwb.onsets`: movement onsets in a noisy, gappy finger trace;
* :mod:`~neurognocchi.data.nwb.write`: :func:`save_nwb`, an atomic NWB writer;
* :mod:`~neurognocchi.data.nwb.samples`: :func:`save_samples_nwb` / :func:`load_samples_nwb`,
  generated samples (a model's ``generate`` output) to and from NWB;
* :mod:`~neurognocchi.data.nwb.metadata`: the session and subject metadata every writer
  records (checked by nwbinspector);
* :mod:`~neurognocchi.data.nwb.synthetic`: :func:`make_random_target_nwb`, a fixture generator
  for tests and benchmarks.

pynwb is an optional dependency (``pip install "neurognocchi[nwb]"``), imported only inside the
functions that need it, so importing this package does not import it.
"""

from neurognocchi.data.nwb.mc_rtt import load_mc_rtt
from neurognocchi.data.nwb.read import BEHAVIOR_SERIES, UNIT_SELECTIONS, load_nwb
from neurognocchi.data.nwb.samples import load_samples_nwb, save_samples_nwb
from neurognocchi.data.nwb.synthetic import make_random_target_nwb
from neurognocchi.data.nwb.write import save_nwb

__all__ = [
    "BEHAVIOR_SERIES",
    "UNIT_SELECTIONS",
    "load_mc_rtt",
    "load_nwb",
    "load_samples_nwb",
    "make_random_target_nwb",
    "save_nwb",
    "save_samples_nwb",
]
