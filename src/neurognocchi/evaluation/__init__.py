"""Evaluation protocol (DESIGN §7): metrics as plain functions of arrays, the protocol runner
`evaluate`, the side-by-side `compare` and its HTML report `write_report`.

Modules: `metrics`, `behavior` and `navigation` (functions of arrays), the building blocks of
the fairness rules v2 (`codes`: code frame, cosines and effective dimension; `spikes`:
bits/spike; `paired`: paired fractions; `uncertainty`: mean ± s.d. over seeds; `floors`: real
trials drawn K per condition), `protocol` (`VARIABLES`, `protocol_split`, `evaluate`),
`sections` (the protocol's steps), `comparison` (`compare` and its table), `figures` (the
comparison figures), `report` (the HTML report) and `serialize`.
Low-level helpers (`format_value`, `to_db`, `window_bins`, `start_and_end`, `position_channels`,
`infer_grid_spacing`, `nearest_conditions`, `traversal_codes`, ...) are not exported here:
import them from their modules.
"""

from neurognocchi.evaluation.behavior import LinearDecoder, decoder_r2, fit_behavior_decoder
from neurognocchi.evaluation.codes import (
    code_direction_cosines,
    participation_ratio,
    whiten_codes,
)
from neurognocchi.evaluation.comparison import compare, summary_table, table_markdown
from neurognocchi.evaluation.floors import resample_trials
from neurognocchi.evaluation.metrics import (
    code_regression_r2,
    code_snr,
    condition_snr,
    correlation_rmse,
    per_neuron_r2,
    poisson_counts,
    pooled_r2,
    sample_statistics,
    target_prediction,
)
from neurognocchi.evaluation.navigation import (
    bias_and_spread,
    direction_cosines,
    intended_gain,
    navigated_codes,
    navigation_directions,
    unintended_movement,
    unintended_per_gain,
)
from neurognocchi.evaluation.paired import paired_fraction
from neurognocchi.evaluation.protocol import VARIABLES, ProtocolSplit, evaluate, protocol_split
from neurognocchi.evaluation.report import write_report
from neurognocchi.evaluation.spike_stats import spike_statistics
from neurognocchi.evaluation.spikes import bits_per_spike
from neurognocchi.evaluation.uncertainty import format_mean_sd, mean_and_sd

__all__ = [
    "VARIABLES",
    "LinearDecoder",
    "ProtocolSplit",
    "bias_and_spread",
    "bits_per_spike",
    "code_direction_cosines",
    "code_regression_r2",
    "code_snr",
    "compare",
    "condition_snr",
    "correlation_rmse",
    "decoder_r2",
    "direction_cosines",
    "evaluate",
    "fit_behavior_decoder",
    "format_mean_sd",
    "intended_gain",
    "mean_and_sd",
    "navigated_codes",
    "navigation_directions",
    "paired_fraction",
    "participation_ratio",
    "per_neuron_r2",
    "poisson_counts",
    "pooled_r2",
    "protocol_split",
    "resample_trials",
    "sample_statistics",
    "spike_statistics",
    "summary_table",
    "table_markdown",
    "target_prediction",
    "unintended_movement",
    "unintended_per_gain",
    "whiten_codes",
    "write_report",
]
