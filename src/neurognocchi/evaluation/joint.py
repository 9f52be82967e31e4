"""Generated behaviour inside `evaluate` (issue 19): navigation and traversals read from the
behaviour a joint model generates with its activity, and how well that agrees with the external
decoder's reading of the same samples.

For a model fitted with ``joint_behavior`` (``behavior_names_`` not empty, ``generate`` takes
``return_behavior``), :func:`joint_section` regenerates the navigated codes and the traversal
steps of the protocol with the seeds of its first sampling seed (so the activity is the very
samples the external decoder scored there) and asks for their behaviour too. Endpoints and
starts are then read two ways: from the generated position channels (mean over the window at
each end, as the protocol reads decoded positions), and through the external ridge decoder from
the generated activity. Reported (summary keys ``joint_*``):

* navigation bias and spread, and per traversed variable unintended movement and intended gain,
  all from the generated behaviour;
* the agreement of the two readings over every generated sample: mean distance between the
  endpoints (``joint_endpoint_disagreement``, data units) and the pooled R² of the external
  reading against the generated behaviour's (``joint_endpoint_r2``).
"""

from __future__ import annotations

import numpy as np

from neurognocchi.evaluation.behavior import position_channels
from neurognocchi.evaluation.generation import takes_keyword
from neurognocchi.evaluation.metrics import pooled_r2
from neurognocchi.evaluation.stochastic import (
    decode_variables,
    endpoint_spread,
    navigation_plan,
    step_seed,
    traversal_plans,
    traversal_scores,
)

__all__ = ["TABLE_ROWS", "ChannelReader", "joint_section", "joint_summary", "table_rows"]


class ChannelReader:
    """A stand-in for the behaviour decoder that reads position channels directly:
    ``decode(behavior)`` is ``behavior[..., channels]``."""

    def __init__(self, channels):
        self.channels = list(channels)

    def decode(self, behavior: np.ndarray) -> np.ndarray:
        return np.asarray(behavior, dtype=np.float64)[..., self.channels]


def table_rows(variables) -> list[tuple[str, str, str]]:
    """The comparison table's rows of this section: (summary key, label, format)."""
    label = "generated behaviour:"
    per_variable = [
        row
        for v in variables
        for row in (
            (f"joint_unintended_{v}", f"{label} unintended movement, {v}", ".3f"),
            (f"joint_intended_gain_{v}", f"{label} intended gain, {v}", ".2f"),
        )
    ]
    return [
        ("joint_navigation_bias", f"{label} navigation bias (data units)", ".3f"),
        ("joint_navigation_spread", f"{label} navigation spread", ".3f"),
        *per_variable,
        ("joint_endpoint_disagreement", "generated vs decoded endpoints: mean distance", ".3f"),
        ("joint_endpoint_r2", "generated vs decoded endpoints: R²", ".3f"),
    ]


TABLE_ROWS = table_rows(("target_x", "target_y", "start_x", "start_y"))


def skip_reason(model, data) -> str | None:
    """Why the section does not apply (None: it does)."""
    if data.output_kind == "codes" or not getattr(model, "behavior_names_", ()):
        return "the model generates no behaviour (fit it with joint_behavior=True)"
    if not takes_keyword(model.generate, "return_behavior"):
        return f"{type(model).__name__}.generate takes no return_behavior="
    return None


def _generate(model, data, codes, seed: int):
    activity, behavior = model.generate(
        codes,
        n_samples=data.n_samples,
        random_state=seed,
        common_noise=data.common_noise,
        return_behavior=True,
    )
    return np.asarray(activity, dtype=np.float64), np.asarray(behavior, dtype=np.float64)


def joint_section(model, data, decoder, directions) -> dict:
    """Navigation and traversals from the generated behaviour, and its agreement with the
    external ``decoder`` on the same samples (``{"skipped": reason}`` when it does not
    apply). ``directions`` are the protocol's code directions."""
    reason = skip_reason(model, data)
    if reason is not None:
        return {"skipped": reason}
    reader = ChannelReader(position_channels(model.behavior_names_, data.position_names))
    window = data.window_bins
    plan = navigation_plan(data, directions)
    activity, behavior = _generate(model, data, plan.codes, step_seed(data, "navigation", 0))
    generated = decode_variables(reader, behavior, window)  # (n, K, 4)
    external = [decode_variables(decoder, activity, window)]
    read = [generated]
    centres = np.stack(
        [generated[plan.goal_of_code == i].mean(axis=(0, 1)) for i in range(len(plan.goals))]
    )
    bias = np.linalg.norm(centres[:, :2] - plan.goals[:, :2], axis=1)  # (n_goals,)
    numbers = {
        "navigation_bias": float(bias.mean()),
        "navigation_spread": endpoint_spread(generated),
    }
    for trav, name in zip(traversal_plans(data, directions), data.variable_names, strict=True):
        seed = step_seed(data, "traversal", 0) + 100 * trav.variable
        activity, behavior = _generate(model, data, trav.codes, seed)
        scores, _ = traversal_scores(reader, behavior, behavior.mean(1), trav, name, data)
        numbers |= {key: scores[key] for key in (f"unintended_{name}", f"intended_gain_{name}")}
        external.append(decode_variables(decoder, activity, window))
        read.append(decode_variables(reader, behavior, window))
    external = np.concatenate([e.reshape(-1, 4) for e in external])[:, :2]
    read = np.concatenate([r.reshape(-1, 4) for r in read])[:, :2]
    numbers["endpoint_disagreement"] = float(np.linalg.norm(external - read, axis=1).mean())
    numbers["endpoint_r2"] = pooled_r2(external, read)
    return {
        "numbers": numbers,
        "behavior_names": list(model.behavior_names_),
        "n_samples": len(read),
    }


def joint_summary(section: dict | None) -> dict:
    """Flat ``joint_*`` summary keys of a :func:`joint_section` result (empty when skipped)."""
    if not section or "skipped" in section:
        return {}
    return {f"joint_{key}": value for key, value in section["numbers"].items()}
