"""Dataset figures (`neurognocchi.plots`): `plot_reaching`."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from neurognocchi import plots
from neurognocchi.data import make_toy_dataset
from neurognocchi.evaluation import figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trials():
    return make_toy_dataset(60, n_neurons=5, n_time=10, random_state=0)


def test_plot_reaching_draws_paths_and_units(trials, tmp_path):
    fig = plots.plot_reaching(trials, n_units=3, max_trials_per_target=2)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4  # hand paths + 3 units
    assert fig.axes[0].get_title().startswith("hand paths")
    assert figures.save_figure(fig, tmp_path / "r.png", dpi=30).read_bytes().startswith(PNG_MAGIC)


def test_plot_reaching_rejects_bad_input(trials):
    with pytest.raises(ValueError, match="n_units"):
        plots.plot_reaching(trials, n_units=-1)
    with pytest.raises(ValueError, match="behavior"):
        plots.plot_reaching(trials.replace(behavior=None, behavior_names=None))


def test_plots_holds_only_the_dataset_figures():
    assert plots.__all__ == ["plot_reaching"]  # the comparison figures' re-exports went in 0.3
    assert not hasattr(plots, "save_figure")
