"""The CUDA paths, run where a CUDA GPU exists (skipped elsewhere): fitting in fp32 and bf16,
generating, saving on the GPU and loading onto the CPU. ``benchmarks/gpu.sh`` runs them with
the GPU benchmarks."""

import numpy as np
import pytest
import torch

from neurognocchi.data import make_toy_dataset
from neurognocchi.estimators import GNOCCHI, LFADS

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TINY = {"code_dim": 2, "max_epochs": 2, "random_state": 0, "verbose": False}
MODELS = {
    "gnocchi": (GNOCCHI, {"channels": 8, "encoder_dim": 8}),
    "lfads": (LFADS, {"encoder_dim": 8, "generator_dim": 8, "factor_dim": 4}),
}


@pytest.fixture(scope="module")
def trials():
    return make_toy_dataset(40, n_neurons=5, n_time=8, random_state=0)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fits_and_generates_on_cuda_then_loads_onto_the_cpu(trials, tmp_path, name, precision):
    cls, params = MODELS[name]
    fitted = cls(device="cuda", precision=precision, **TINY, **params).fit(trials)
    codes = fitted.encode(trials)
    samples = fitted.generate(codes[:3], n_samples=2, random_state=0, common_noise=True)
    assert samples.shape == (3, 2, trials.n_time, trials.n_neurons)
    assert np.isfinite(samples).all()
    on_cpu = cls.load(fitted.save(tmp_path / name), device="cpu")
    # The same weights: codes agree to the GPU's float rounding (TF32 convolutions included).
    np.testing.assert_allclose(on_cpu.encode(trials), codes, rtol=2e-2, atol=2e-2)
