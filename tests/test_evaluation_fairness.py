"""The fair protocol (issue 16) judged with oracle models whose right answers are known.

* An oracle that returns the noise-free truth PSTH of the nearest condition plus independent
  noise scores at the noise-free floor when all codes of a traversal share their noise and
  K = 32 (and above it with fresh noise per code).
* A model whose output ignores its code shows intended gain ~ 0 and is flagged.
* Wrapping a model's codes in an invertible affine map leaves every number unchanged.
"""

import numpy as np
import pytest

from neurognocchi.data import make_reaching_dataset
from neurognocchi.estimators import PPCA
from neurognocchi.evaluation import compare, evaluate, protocol_split
from neurognocchi.evaluation.generation import infer_smoothing
from neurognocchi.evaluation.protocol import VARIABLES


@pytest.fixture(scope="module")
def trials():
    return make_reaching_dataset(240, n_neurons=24, n_time=120, bin_size_s=0.04, random_state=0)


@pytest.fixture(scope="module")
def split(trials):
    return protocol_split(trials, random_state=0)


class Oracle:
    """Code = the trial's four variables; output = the condition mean of the truth (smoothed
    like the data) of the condition whose mean variables are nearest the code, plus Gaussian
    noise of s.d. ``noise_sd`` (Hz), sample ``k`` sharing its noise across codes when
    ``common_noise``. With ``ignore_code`` every code gets the grand mean instead."""

    output_kind = "samples"

    def __init__(self, trials, *, noise_sd=5.0, ignore_code=False):
        reference = infer_smoothing(trials).apply(trials.truth)
        conditions = trials.info("condition")
        self.labels = np.unique(conditions)
        self.psth = np.stack([reference[conditions == c].mean(0) for c in self.labels])
        self.centres = np.stack(
            [self.variables(trials)[conditions == c].mean(0) for c in self.labels]
        )
        self.noise_sd, self.ignore_code = noise_sd, ignore_code

    @staticmethod
    def variables(trials):
        return np.stack([trials.info(name) for name in VARIABLES], axis=1).astype(float)

    def encode(self, trials):
        return self.variables(trials)

    def _means(self, codes):
        if self.ignore_code:
            return np.repeat(self.psth.mean(0)[None], len(codes), axis=0)
        nearest = np.argmin(np.linalg.norm(codes[:, None] - self.centres[None], axis=-1), 1)
        return self.psth[nearest]

    def generate(self, codes, *, n_samples=1, random_state=None, common_noise=False):
        codes = np.asarray(codes, dtype=float)
        rng = np.random.default_rng(random_state)
        shape = self.psth.shape[1:]
        if common_noise:
            noise = np.broadcast_to(
                rng.normal(size=(1, n_samples, *shape)), (len(codes), n_samples, *shape)
            )
        else:
            noise = rng.normal(size=(len(codes), n_samples, *shape))
        return self._means(codes)[:, None] + self.noise_sd * noise

    def sample_prior(self, n, *, random_state=None):
        rng = np.random.default_rng(random_state)
        return self.psth[rng.integers(len(self.psth), size=n)] + self.noise_sd * rng.normal(
            size=(n, *self.psth.shape[1:])
        )


class Affine:
    """A model whose codes are ``A c + b`` of the wrapped model's codes ``c``."""

    def __init__(self, model, matrix, offset):
        self.model, self.matrix, self.offset = model, matrix, offset
        self.output_kind = getattr(model, "output_kind", "samples")

    def encode(self, trials):
        return self.model.encode(trials) @ self.matrix.T + self.offset

    def _inner(self, codes):
        return np.linalg.solve(self.matrix, (np.asarray(codes) - self.offset).T).T

    def generate(self, codes, *, n_samples=1, random_state=None, common_noise=False, **output):
        inner = self._inner(codes)  # output: the wrapped model's ``output=``, where it has one
        return self.model.generate(
            inner,
            n_samples=n_samples,
            random_state=random_state,
            common_noise=common_noise,
            **output,
        )

    def sample_prior(self, n, **options):
        return self.model.sample_prior(n, **options)


OPTIONS = {"n_samples": 32, "n_sampling_seeds": 2, "random_state": 0}
TRAVERSED = ("target_x", "target_y")


def test_oracle_with_common_noise_scores_at_the_noise_free_floor(trials, split):
    result = evaluate(Oracle(trials), trials, split=split, **OPTIONS)
    summary, floor = result["summary"], result["floor_summaries"]["noise_free"]
    assert "code_r2_go_time" in summary  # the reaching data's go cue varies by trial
    for name in TRAVERSED:
        for key in (f"unintended_{name}", f"intended_gain_{name}"):
            assert summary[key] == pytest.approx(floor[key], rel=1e-6, abs=1e-9), key
            assert summary[f"{key}_sd"] == pytest.approx(0.0, abs=1e-9)
        assert floor[f"intended_gain_{name}"] > 0.3  # the floor itself moves
    # navigation: the mean of 32 noisy samples lands where the noise-free PSTH does
    assert summary["navigation_bias"] == pytest.approx(floor["navigation_bias"], abs=0.1)
    assert summary["reconstruction_r2"] == pytest.approx(floor["reconstruction_r2"], abs=0.05)


def test_oracle_with_fresh_noise_per_code_is_above_the_floor(trials, split):
    shared = evaluate(Oracle(trials), trials, split=split, **OPTIONS)["summary"]
    fresh = evaluate(Oracle(trials), trials, split=split, common_noise=False, **OPTIONS)
    for name in TRAVERSED:
        assert fresh["summary"][f"unintended_{name}"] > shared[f"unintended_{name}"]


def test_model_that_ignores_its_code_has_no_gain_and_is_flagged(trials, split):
    result = evaluate(Oracle(trials, ignore_code=True), trials, split=split, **OPTIONS)
    summary = result["summary"]
    for name in TRAVERSED:
        assert abs(summary[f"intended_gain_{name}"]) < 0.02
        assert summary[f"unintended_{name}"] == pytest.approx(0.0, abs=1e-9)
        assert summary[f"unintended_per_gain_{name}"] is None  # undefined, not "perfect"
        assert any(flag.startswith(f"traversing {name}:") for flag in result["flags"])
    assert not evaluate(Oracle(trials), trials, split=split, **OPTIONS)["flags"]


def _numbers(tree, prefix=""):
    """Every number of an evaluate result, by path (config and timings left out)."""
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            if key not in (
                "config",
                "evaluate_seconds",
                "fit_seconds",
                "figure_data",
                "step_seconds",
            ):
                out |= _numbers(value, f"{prefix}/{key}")
        return out
    if isinstance(tree, list) and tree and not isinstance(tree[0], str):
        return {prefix: np.array(tree, dtype=float)}
    return {prefix: np.array(tree, dtype=float)} if isinstance(tree, (int, float)) else {}


@pytest.mark.parametrize("name", ["oracle", "ppca"])
def test_every_number_is_invariant_to_an_affine_map_of_the_codes(trials, split, name):
    model = Oracle(trials) if name == "oracle" else PPCA(4, random_state=0).fit(trials[split.train])
    code_dim = model.encode(trials[:2]).shape[1]
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(code_dim, code_dim)) * [10.0, 0.1, 1.0, 3.0][:code_dim]
    wrapped = Affine(model, matrix, rng.normal(size=code_dim) * 50)
    plain = evaluate(model, trials, split=split, **OPTIONS)
    mapped = evaluate(wrapped, trials, split=split, **OPTIONS)
    a, b = _numbers(plain), _numbers(mapped)
    assert a.keys() == b.keys()
    directions = {key for key in a if key.endswith("/directions")}  # in the model's own frame
    for key in sorted(a.keys() - directions):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-5, atol=1e-7, err_msg=key)


def test_compare_reports_floors_and_paired_fractions(trials, split):
    result = compare(
        {"oracle": Oracle(trials), "blind": Oracle(trials, ignore_code=True)},
        trials,
        split=split,
        **OPTIONS,
    )
    columns = result["table"]["columns"]
    assert columns[:3] == ["metric", "oracle", "blind"]
    assert any(c.startswith("floor: real trials") for c in columns)
    assert any(c.startswith("floor: noise-free") for c in columns)
    rows = {row["key"]: row["cells"] for row in result["table"]["rows"]}
    assert "±" in rows["unintended_target_x"][0]
    neurons = result["paired"]["blind"]["paired_neurons"]
    assert neurons["fraction"] > 0.9 and neurons["n_pairs"] == trials.n_neurons
    assert rows["paired_neurons"][1] == f"{neurons['fraction']:.2f}"


class RateOracle(Oracle):
    """The oracle as a rate model: noise-free PSTHs, Poisson-sampled by the protocol."""

    output_kind = "rates"

    def __init__(self, trials):
        super().__init__(trials, noise_sd=0.0)
        self.psth = np.stack(
            [trials.truth[trials.info("condition") == c].mean(0) for c in self.labels]
        )


def test_rate_model_mean_numbers_have_no_sampling_noise(trials, split):
    summary = evaluate(RateOracle(trials), trials, split=split, **OPTIONS)["summary"]
    for key in ("navigation_bias", "unintended_target_x", "reconstruction_r2"):
        assert summary[f"{key}_sd"] == pytest.approx(0.0, abs=1e-12), key
    assert summary["navigation_spread"] > 0.1  # its Poisson samples do vary
    assert summary["bits_per_spike"] > 0
