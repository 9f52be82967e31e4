"""Comparison figures (DESIGN §7): each function returns a Figure from synthetic arrays and saves
a PNG."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from neurognocchi.evaluation import figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RNG = np.random.default_rng(0)
MODELS = ("GNOCCHI", "LFADS")


def _check(fig, tmp_path, name: str) -> None:
    assert isinstance(fig, Figure)
    path = figures.save_figure(fig, tmp_path / f"{name}.png", dpi=40)
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert [p.name for p in tmp_path.iterdir()] == [f"{name}.png"]  # no temporary files left


def test_unit_responses_figure(tmp_path):
    real = RNG.normal(size=(6, 20, 3))
    generated = {m: real + 0.1 * RNG.normal(size=real.shape) for m in MODELS}
    fig = figures.unit_responses_figure(real, generated, np.linspace(-3, 3, 6), bin_size_s=0.02)
    _check(fig, tmp_path, "units")


def test_code_pcs_figure_marks_held_out_trials(tmp_path):
    heldout = np.arange(40) % 5 == 0
    pcs = {m: RNG.normal(size=(40, 3)) for m in MODELS}
    fig = figures.code_pcs_figure(pcs, RNG.normal(size=40), RNG.normal(size=40), heldout)
    assert len([ax for ax in fig.axes if ax.name == "3d"]) == 4  # 2 models x (target x, y)
    _check(fig, tmp_path, "codes")


def test_bar_figures_accept_none_as_missing(tmp_path):
    snr = {
        "GNOCCHI": {"target_x": 10.0, "target_y": None},
        "LFADS": {"target_x": 5.0, "target_y": 3.0},
    }
    _check(figures.code_snr_figure(snr), tmp_path, "snr")
    unintended = {m: {"target_x": 0.5, "target_y": 0.2} for m in MODELS}
    fig = figures.disentanglement_figure(unintended, {"GNOCCHI": 0.1, "LFADS": None})
    _check(fig, tmp_path / "d", "disentanglement")


def test_reconstruction_figure_puts_the_named_models_on_the_axes(tmp_path):
    per_neuron = {"GNOCCHI": [0.5, 0.6, None], "LFADS": [0.4, 0.7, 0.1]}
    fig = figures.reconstruction_figure({"GNOCCHI": 0.55, "LFADS": 0.5}, per_neuron)
    scatter = fig.axes[1]
    assert scatter.get_xlabel().startswith("LFADS") and scatter.get_ylabel().startswith("GNOCCHI")
    _check(fig, tmp_path, "reconstruction")
    with pytest.raises(ValueError, match="not among"):
        figures.reconstruction_figure({"a": 1.0}, {"a": [1.0]}, x_model="b")


def test_navigation_trajectories_figure(tmp_path):
    paths = {m: {v: RNG.normal(size=(5, 20, 2)) for v in ("target_x", "target_y")} for m in MODELS}
    _check(figures.navigation_trajectories_figure(paths), tmp_path, "navigation")


def test_heldout_prediction_figure_puts_gnocchi_on_x(tmp_path):
    true = np.repeat([[-2.0, -2.0], [2.0, 2.0]], 5, axis=0)
    predicted = {m: true + RNG.normal(size=true.shape) for m in MODELS}
    errors = {m: np.linalg.norm(predicted[m] - true, axis=1) for m in MODELS}
    fig = figures.heldout_prediction_figure(true, predicted, errors)
    assert fig.axes[-1].get_xlabel() == "GNOCCHI error"
    assert fig.axes[-1].get_ylabel() == "LFADS error"
    _check(fig, tmp_path, "heldout")


def test_generated_pca_figure(tmp_path):
    projections = {
        m: {k: RNG.normal(size=(8, 20, 3)) for k in ("real", "conditional", "unconditional")}
        for m in MODELS
    }
    _check(figures.generated_pca_figure(projections, np.linspace(-3, 3, 8)), tmp_path, "pca")


def test_figures_reject_wrong_ranks():
    with pytest.raises(ValueError, match="real must have rank 3"):
        figures.unit_responses_figure(np.zeros((3, 4)), {}, np.zeros(3))
