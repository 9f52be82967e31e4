"""Evaluation protocol (DESIGN §7): metrics as plain functions of arrays, the protocol runner
`evaluate` and the side-by-side `compare`."""

from neurognocchi.evaluation.behavior import (
    LinearDecoder,
    decoder_r2,
    fit_behavior_decoder,
    position_channels,
    start_and_end,
    window_bins,
)
from neurognocchi.evaluation.comparison import compare, format_value, summary_table, table_markdown
from neurognocchi.evaluation.metrics import (
    code_regression_r2,
    code_snr,
    condition_snr,
    correlation_rmse,
    infer_grid_spacing,
    per_neuron_r2,
    poisson_counts,
    pooled_r2,
    sample_statistics,
    target_prediction,
    to_db,
)
from neurognocchi.evaluation.navigation import (
    direction_cosines,
    navigated_codes,
    navigation_directions,
    nearest_conditions,
    traversal_codes,
    unintended_movement,
)
from neurognocchi.evaluation.protocol import ProtocolSplit, evaluate, protocol_split

__all__ = [
    "LinearDecoder",
    "ProtocolSplit",
    "code_regression_r2",
    "code_snr",
    "compare",
    "condition_snr",
    "correlation_rmse",
    "decoder_r2",
    "direction_cosines",
    "evaluate",
    "fit_behavior_decoder",
    "format_value",
    "infer_grid_spacing",
    "navigated_codes",
    "navigation_directions",
    "nearest_conditions",
    "per_neuron_r2",
    "poisson_counts",
    "pooled_r2",
    "position_channels",
    "protocol_split",
    "sample_statistics",
    "start_and_end",
    "summary_table",
    "table_markdown",
    "target_prediction",
    "to_db",
    "traversal_codes",
    "unintended_movement",
    "window_bins",
]
