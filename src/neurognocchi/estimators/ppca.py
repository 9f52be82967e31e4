"""PPCA: probabilistic PCA of the flattened trial, the linear baseline of the same code size.

The model (Tipping & Bishop 1999) of a trial flattened to ``D = n_time * n_neurons`` features of
per-neuron z-scored activity is ``x = mu + W z + sigma eps`` with ``z ~ N(0, I_q)`` and
``eps ~ N(0, I_D)``. Its maximum-likelihood fit is closed form (their eqs. 7-8): with
``lambda_1 >= lambda_2 >= ...`` the eigenvalues of the sample covariance (1/n) and ``U_q`` the
first ``q`` eigenvectors, ``sigma^2`` is the mean of the ``D - q`` discarded eigenvalues and
``W = U_q (Lambda_q - sigma^2 I)^(1/2)``. The eigen-decomposition is the SVD of the centred
``(n_trials, D)`` data matrix, which costs ``O(min(n, D)^2 max(n, D))`` and never forms the
``D x D`` covariance.

A trial's code is the posterior mean of its latent, ``M^-1 W^T (x - mu)`` with
``M = W^T W + sigma^2 I``. Given a code ``c``, a trial of the model is Gaussian with mean
``mu + W (W^T W)^-1 M c`` (the reconstruction Tipping & Bishop recommend; not ``mu + W c``,
which would shrink every code direction by ``(lambda_j - sigma^2) / lambda_j``) and covariance
``sigma^2 (I - P)``, ``P`` the projector onto the columns of ``W``: the code fixes the part of a
trial in that subspace, and the isotropic noise fills the rest. So ``encode(generate(c)) = c``
for every sample, and codes distributed as the model's codes generate its marginal
``N(mu, W W^T + sigma^2 I)``, which ``sample_prior`` draws from directly.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator

from neurognocchi._checks import (
    InvalidArgumentError,
    check_bool,
    check_positive_int,
    check_random_state,
)
from neurognocchi._saving import read_model_dir, write_model_dir
from neurognocchi.data.stats import neuron_statistics
from neurognocchi.data.trials import Trials
from neurognocchi.estimators.base import FittedInputChecks, as_activity
from neurognocchi.estimators.outputs import check_sample_output, samples_as_output
from neurognocchi.estimators.parameters import PPCA_PARAMETERS, docstring_section
from neurognocchi.nn.scaler import NeuronScaler

__all__ = ["PPCA"]

# weights.pt key -> fitted attribute (the scaler's buffers are saved as "scaler.mean"/"std").
_SAVED_ARRAYS = {
    "mean": "mean_",
    "components": "components_",
    "explained_variance": "explained_variance_",
}


class PPCA(FittedInputChecks, BaseEstimator):
    __doc__ = f"""Probabilistic PCA of the flattened, per-neuron z-scored trial (closed-form fit).

    Parameters
    ----------
    {docstring_section(PPCA_PARAMETERS)}

    Attributes
    ----------
    mean_ : ndarray, shape (n_time * n_neurons,)
        ``mu``, the mean flattened trial in z-scored units.
    components_ : ndarray, shape (n_time * n_neurons, code_dim)
        ``W``; its columns are orthogonal, in decreasing order of variance.
    noise_variance_ : float
        ``sigma^2``, in z-scored units.
    explained_variance_ : ndarray, shape (code_dim,)
        The ``code_dim`` largest eigenvalues of the sample covariance.
    n_time_, n_neurons_ : int
        Shape of a trial.
    bin_size_s_ : float or None
        Bin width of the fitted trials (None for a raw array), for ``output="rates"|"spikes"``.
    scaler_ : NeuronScaler
        The per-neuron statistics of the training trials.
    fit_seconds_ : float
    history_ : list
        Empty: there is no training loop (kept for the run-directory tools).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(30, 5, 4))  # (n_trials, n_time, n_neurons)
    >>> model = PPCA(code_dim=3).fit(x)
    >>> codes = model.encode(x)
    >>> codes.shape, model.generate(codes[:2], n_samples=4, random_state=0).shape
    ((30, 3), (2, 4, 5, 4))
    >>> bool(np.allclose(model.encode(model.generate(codes[:2], random_state=0)[:, 0]),
    ...                  codes[:2], atol=1e-4))
    True
    """

    output_kind = "samples"  # generate returns activity-like samples (see evaluation.generation)

    _parameters = PPCA_PARAMETERS

    def __init__(
        self, code_dim: int = 16, *, random_state: int | None = None, verbose: bool = False
    ):
        self._store_params(locals())

    _fitted_attribute = "components_"

    def _trial_shape(self) -> tuple[int, int]:
        return (self.n_time_, self.n_neurons_)

    def _code_dim(self) -> int:
        return self.components_.shape[1]

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None):
        """Fit by the SVD of the centred, z-scored, flattened training trials.

        Parameters
        ----------
        X : Trials or array, shape (n_trials, n_time, n_neurons)
        y : ignored (scikit-learn convention)

        Returns
        -------
        self
        """
        del y
        self.check_params()
        start = time.perf_counter()
        activity = as_activity(X, name="X")
        n_trials, n_time, n_neurons = activity.shape
        scaler = NeuronScaler(n_neurons)
        scaler.load_statistics(neuron_statistics(activity))
        flat = _normalize(scaler, activity).reshape(n_trials, -1)  # (n, D) float64
        mean = flat.mean(axis=0)  # (D,)
        eigenvalues, vectors = _principal_axes(flat - mean)  # (r,), (D, r)
        self.components_, self.noise_variance_ = _ml_parameters(
            eigenvalues, vectors, self.code_dim, n_trials=n_trials
        )
        self.explained_variance_ = eigenvalues[: self.code_dim]
        self.mean_, self.scaler_ = mean, scaler
        self.n_time_, self.n_neurons_ = n_time, n_neurons
        self.bin_size_s_ = X.bin_size_s if isinstance(X, Trials) else None
        self.history_ = []
        self.fit_seconds_ = time.perf_counter() - start
        return self

    # ------------------------------------------------------------------ codes
    def encode(self, X, *, batch_size: int = 256) -> np.ndarray:
        """Codes of trials: the posterior means ``M^-1 W^T (x - mu)`` of their latents.

        Parameters
        ----------
        X : Trials or array, shape (n_trials, n_time, n_neurons)
        batch_size : int
            Trials read and projected together.

        Returns
        -------
        array, shape (n_trials, code_dim), float32
        """
        self._check_fitted()
        activity = as_activity(X, name="X")
        self._check_trials_shape(activity, "X")
        batch_size = check_positive_int(batch_size, "batch_size")
        w = self.components_
        projection = np.linalg.solve(self._m_matrix(), w.T)  # (q, D): M^-1 W^T
        codes = [
            (
                _normalize(self.scaler_, activity[i : i + batch_size]).reshape(-1, w.shape[0])
                - self.mean_
            )
            @ projection.T
            for i in range(0, len(activity), batch_size)
        ]
        return np.concatenate(codes).astype(np.float32)

    def _m_matrix(self) -> np.ndarray:
        """``M = W^T W + sigma^2 I`` (q, q)."""
        w = self.components_
        return w.T @ w + self.noise_variance_ * np.eye(w.shape[1])

    # ------------------------------------------------------------------ generation
    def generate(
        self,
        codes,
        *,
        n_samples: int = 1,
        random_state: int | None = None,
        common_noise: bool = False,
        batch_size: int = 256,
        output: str = "activity",
    ) -> np.ndarray:
        """Trials drawn from the model given their codes: ``mu + W (W^T W)^-1 M c`` plus
        ``sigma`` times N(0, I) noise projected off the columns of ``W`` (see the module
        docstring), in data units.

        Parameters
        ----------
        codes : array, shape (n_codes, code_dim)
        n_samples : int
            Samples per code.
        random_state : int, optional
            Seed of the noise; the same seed gives the same samples.
        common_noise : bool
            Sample ``k`` of every code gets the same noise draw, so that differences between
            codes come from the codes alone (and a code's samples do not depend on the other
            codes). Default False: independent noise for every sample.
        batch_size : int
            Trials (code-sample pairs) drawn together; the samples depend on it only through
            rounding (not at all with ``common_noise``).
        output : {"activity", "rates", "spikes"}
            As GNOCCHI's: the samples (default), counts per bin, or Poisson counts (see
            :mod:`neurognocchi.estimators.outputs`); the last two need ``bin_size_s_``.

        Returns
        -------
        array, shape (n_codes, n_samples, n_time, n_neurons), float32 (or as ``output`` says)
        """
        self._check_fitted()
        output = check_sample_output(output, bin_size_s=self.bin_size_s_, owner="PPCA")
        codes = self._check_codes(codes)
        n_samples = check_positive_int(n_samples, "n_samples")
        check_bool(common_noise, "common_noise")
        batch_size = check_positive_int(batch_size, "batch_size")
        seed = check_random_state(random_state)
        rng = np.random.default_rng(seed)
        w = self.components_
        means = self._conditional_means(codes)  # (n_codes, D)
        if common_noise:  # (1, K, D): the same draws for every code
            shared = self._project_noise(rng.standard_normal((1, n_samples, w.shape[0])))
        step = max(1, batch_size // n_samples)  # codes per batch
        out = []
        for i in range(0, len(codes), step):
            if common_noise:
                noise = shared
            else:
                draw = rng.standard_normal((len(means[i : i + step]), n_samples, w.shape[0]))
                noise = self._project_noise(draw)  # (b, K, D)
            out.append(self._to_data_units(means[i : i + step, None] + noise))
        return samples_as_output(
            np.concatenate(out),
            output,
            bin_size_s=self.bin_size_s_,
            seed=seed,
            common_noise=common_noise,
        )

    def _conditional_means(self, codes: np.ndarray) -> np.ndarray:
        """``mu + W (W^T W)^-1 M c`` (n, D) for codes (n, q), one code direction at a time
        (elementwise arithmetic, so each row is computed alike whatever the other rows)."""
        w = self.components_
        directions = np.linalg.solve(w.T @ w, self._m_matrix() @ w.T)  # (q, D)
        means = np.broadcast_to(self.mean_, (len(codes), len(self.mean_))).copy()
        for j, direction in enumerate(directions):
            means += codes[:, j, None] * direction
        return means

    def _check_codes(self, codes) -> np.ndarray:
        return self._code_array(codes, np.float64)

    def _project_noise(self, eps: np.ndarray) -> np.ndarray:
        """``sigma (I - P) eps`` for N(0, I) draws ``eps`` (..., D), ``P`` the projector onto
        the columns of ``W``: the noise of a trial given its code."""
        w = self.components_
        inside = (eps @ w) @ np.linalg.solve(w.T @ w, w.T)  # (..., D): P eps
        return np.sqrt(self.noise_variance_) * (eps - inside)

    def _to_data_units(self, flat: np.ndarray) -> np.ndarray:
        """(..., D) z-scored flattened trials -> (..., n_time, n_neurons) float32 data units."""
        z = torch.from_numpy(flat.reshape(*flat.shape[:-1], self.n_time_, self.n_neurons_))
        return self.scaler_.inverse(z.float()).numpy()

    def sample_prior(
        self,
        n: int,
        *,
        random_state: int | None = None,
        batch_size: int = 256,
        output: str = "activity",
    ) -> np.ndarray:
        """Unconditional samples of the model: ``mu + W z + sigma eps``, ``z ~ N(0, I)``.

        Parameters
        ----------
        n : int
            Number of samples.
        random_state : int, optional
            Seed of ``z`` and ``eps``.
        batch_size : int
            Samples drawn together; the samples depend on it only through rounding.
        output : {"activity", "rates", "spikes"}
            As :meth:`generate`'s.

        Returns
        -------
        array, shape (n, n_time, n_neurons), float32, in data units (or as ``output`` says).
        """
        self._check_fitted()
        output = check_sample_output(output, bin_size_s=self.bin_size_s_, owner="PPCA")
        n = check_positive_int(n, "n")
        batch_size = check_positive_int(batch_size, "batch_size")
        # Separate streams for z and eps, so that batching does not reorder the draws.
        seed = check_random_state(random_state)
        streams = np.random.SeedSequence(seed).spawn(2)
        rng_z, rng_eps = (np.random.default_rng(stream) for stream in streams)
        w, sigma = self.components_, np.sqrt(self.noise_variance_)
        out = []
        for i in range(0, n, batch_size):
            size = min(batch_size, n - i)
            z = rng_z.standard_normal((size, w.shape[1]))  # (b, q)
            eps = rng_eps.standard_normal((size, w.shape[0]))  # (b, D)
            out.append(self._to_data_units(self.mean_ + z @ w.T + sigma * eps))
        samples = np.concatenate(out)[:, None]  # (n, 1, T, N)
        return samples_as_output(
            samples, output, bin_size_s=self.bin_size_s_, seed=seed, common_noise=False
        )[:, 0]

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model into the directory ``path`` (``config.json`` and
        ``weights.pt``, tensors only, each atomically; see :mod:`neurognocchi._saving`)."""
        self._check_fitted()
        state = {key: torch.from_numpy(getattr(self, name)) for key, name in _SAVED_ARRAYS.items()}
        state |= {f"scaler.{key}": value for key, value in self.scaler_.state_dict().items()}
        state["noise_variance"] = torch.tensor(self.noise_variance_, dtype=torch.float64)
        return write_model_dir(
            path,
            estimator_name=type(self).__name__,
            params=self.get_params(),
            model=dict(n_time=self.n_time_, n_neurons=self.n_neurons_, bin_size_s=self.bin_size_s_),
            state=state,
            fit_seconds=self.fit_seconds_,
            history=[],
        )

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | None = None):
        """Rebuild a PPCA saved by :meth:`save` (weights read with ``weights_only=True``).
        ``device`` is accepted like the other estimators' and ignored (PPCA runs in numpy)."""
        del device
        saved = read_model_dir(path, estimator_name=cls.__name__)
        missing = {*_SAVED_ARRAYS, "noise_variance", "scaler.mean", "scaler.std"} - set(saved.state)
        if missing:
            raise InvalidArgumentError(
                f"{str(path)!r}: weights.pt lacks PPCA's tensors {sorted(missing)}"
            )
        model = cls(**saved.params)
        model.n_time_, model.n_neurons_ = saved.model["n_time"], saved.model["n_neurons"]
        model.bin_size_s_ = saved.model.get("bin_size_s")  # None: unknown or not saved
        model.scaler_ = NeuronScaler(model.n_neurons_)
        model.scaler_.load_state_dict({k: saved.state[f"scaler.{k}"] for k in ("mean", "std")})
        for key, name in _SAVED_ARRAYS.items():
            setattr(model, name, saved.state[key].numpy())
        model.noise_variance_ = float(saved.state["noise_variance"])
        model.fit_seconds_, model.history_ = saved.fit_seconds, []
        return model


def _normalize(scaler: NeuronScaler, activity) -> np.ndarray:
    """Per-neuron z-scores (float64) of trials (n, T, N) with the models' arithmetic."""
    x = torch.as_tensor(np.array(activity, dtype=np.float32))  # a copy: memmaps are read-only
    with torch.no_grad():
        return scaler(x).double().numpy()


def _principal_axes(centred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (r,) of the sample covariance ``centred^T centred / n`` and their unit
    eigenvectors (D, r), ``r = min(n, D)``, from the thin SVD of ``centred`` (n, D).

    Signs are fixed (the largest entry of each eigenvector is positive) so that the fit does
    not depend on the LAPACK build.
    """
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)  # (r,), (r, D)
    rows = np.arange(len(vt))
    signs = np.sign(vt[rows, np.abs(vt).argmax(axis=1)])
    return singular**2 / len(centred), (vt * signs[:, None]).T


def _ml_parameters(
    eigenvalues: np.ndarray, vectors: np.ndarray, code_dim: int, *, n_trials: int
) -> tuple[np.ndarray, float]:
    """``(W, sigma^2)`` of the maximum-likelihood PPCA with ``code_dim`` latents (Tipping &
    Bishop 1999, eqs. 7-8, with the rotation R = I)."""
    n_features = len(vectors)
    # numpy's matrix_rank tolerance on the singular values, squared onto the eigenvalues.
    tolerance = eigenvalues[0] * (max(n_trials, n_features) * np.finfo(float).eps) ** 2
    rank = int(np.sum(eigenvalues > tolerance))
    if code_dim >= rank:
        raise InvalidArgumentError(
            f"code_dim={code_dim} must be smaller than the rank {rank} of the centred training "
            f"data ({n_trials} trials of {n_features} features): PPCA's noise variance is the "
            "mean variance of the directions left out, which would be zero; pass a smaller "
            "code_dim or more trials"
        )
    noise_variance = float(eigenvalues[code_dim:].sum() / (n_features - code_dim))
    signal = eigenvalues[:code_dim] - noise_variance  # (q,)
    if signal[-1] <= 1e-12 * eigenvalues[0]:
        raise InvalidArgumentError(
            f"the {code_dim} largest variances do not rise above the noise variance "
            f"{noise_variance:.3g}: the data have no {code_dim}-dimensional signal; pass a "
            "smaller code_dim"
        )
    return vectors[:, :code_dim] * np.sqrt(signal), noise_variance
