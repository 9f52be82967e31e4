"""CEBRA: contrastive embeddings of the time bins of each trial, one code per trial; a
code-structure baseline that cannot generate (optional extra ``neurognocchi[cebra]``).

CEBRA (Schneider, Lee & Mathis, Nature 2023) trains a convolutional encoder of short windows
of population activity with the InfoNCE loss: the embedding of a reference window is pulled
towards a *positive* window and pushed from *negative* windows drawn uniformly. The positive
defines the variant:

* **CEBRA-Time** (``conditional="time"``, self-supervised): the window ``time_offsets`` bins
  later in the same trial. It uses no labels, like GNOCCHI's codes.
* **CEBRA-Behavior** (``conditional="time_delta"``, **supervised**): the window whose behaviour
  (z-scored ``behavior_names`` of the training trials, e.g. hand position and velocity) is
  nearest to the reference's behaviour plus a behaviour change over ``time_offsets`` bins drawn
  from the training trials. Its codes are shaped by the labels the protocol reads out, so it
  is an upper reference, not a peer of the unsupervised models.

The networks (``cebra.models``, e.g. ``"offset10-model"``: 10-bin receptive field) and the
losses (``FixedCosineInfoNCE`` / ``FixedEuclideanInfoNCE``) are CEBRA's own; the sampling loop
is this module's. ``cebra.CEBRA.fit`` is not used because it sees one continuous recording
(positive pairs and receptive fields would straddle two trials: ``time_offsets / n_time`` of the
pairs, 17 % at 10 of 60 bins) and because cebra 0.6 seeds its samplers from system entropy, so
its fits cannot be repeated. Here every window lies inside one trial, and ``random_state``
fixes the initial weights (``torch.random.fork_rng``, the global generator is left as it was)
and every draw.

**A trial's code** is the embedding of each window of the trial (``n_time - 9`` windows for
the 10-bin model) averaged over ``time_windows`` equal stretches of them, concatenated:
``code_dim = time_windows * output_dimension``. The default, ``time_windows = 1``, is the
trial's mean embedding: one summary of the whole trial of GNOCCHI's code size, read without the
trial's timing (the go cue varies, so fixed stretches mix delay and movement differently in
each trial; on reaching data 4 stretches read out targets and go time no better).
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator

from neurognocchi._checks import (
    InvalidArgumentError,
    check_positive_int,
    check_random_state,
    resolve_device,
)
from neurognocchi._saving import read_model_dir, write_model_dir
from neurognocchi.data.stats import neuron_statistics
from neurognocchi.estimators import cebra_windows
from neurognocchi.estimators.base import FittedInputChecks, as_activity
from neurognocchi.estimators.parameters import CEBRA_PARAMETERS, docstring_section
from neurognocchi.nn.scaler import NeuronScaler

__all__ = ["CEBRA", "import_cebra"]

N_HISTORY = 50  # rows of history_ (mean loss over each 1/50 of the iterations)


def import_cebra():
    """The ``cebra`` package, or an ImportError saying how to install it."""
    try:
        with warnings.catch_warnings():  # cebra 0.6 uses torch.jit.script at import
            warnings.simplefilter("ignore", DeprecationWarning)
            import cebra.models
    except ImportError as error:
        raise ImportError(
            "the CEBRA baseline needs the optional package 'cebra' (Apache-2.0): "
            "pip install 'neurognocchi[cebra]'"
        ) from error
    return cebra


class CEBRA(FittedInputChecks, BaseEstimator):
    __doc__ = f"""CEBRA-Time (default) or CEBRA-Behavior embeddings, averaged into one code per
    trial.

    Parameters
    ----------
    {docstring_section(CEBRA_PARAMETERS)}

    Attributes
    ----------
    model_ : torch.nn.Module
        CEBRA's network, in eval mode.
    scaler_ : NeuronScaler
        Per-neuron z-scoring of the training trials (the network sees z-scores).
    training_labels_ : tuple of str
        Behaviour channels the fit used: empty for CEBRA-Time.
    n_time_, n_neurons_ : int
    history_ : list of dict
        ``iteration``, ``loss``: the mean InfoNCE loss over each 1/50 of the iterations.
    fit_seconds_ : float
    device_ : torch.device

    Examples
    --------
    >>> from neurognocchi.data import make_toy_dataset
    >>> trials = make_toy_dataset(40, n_neurons=6, n_time=24, random_state=0)
    >>> model = CEBRA(code_dim=4, max_iterations=5, batch_size=32, random_state=0)
    >>> model.fit(trials).encode(trials).shape  # doctest: +SKIP
    (40, 4)
    """

    output_kind = "codes"  # it encodes, it cannot generate (see evaluation.generation)
    _parameters = CEBRA_PARAMETERS

    def __init__(
        self,
        code_dim: int = 16,
        *,
        conditional: str = "time",
        behavior_names: tuple[str, ...] | None = None,
        time_windows: int = 1,
        model_architecture: str = "offset10-model",
        num_hidden_units: int = 32,
        time_offsets: int = 10,
        distance: str = "cosine",
        temperature: float = 1.0,
        batch_size: int = 512,
        learning_rate: float = 3e-4,
        max_iterations: int = 2000,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool = False,
    ):
        self._store_params(locals())

    _fitted_attribute = "model_"

    def _trial_shape(self) -> tuple[int, int]:
        return (self.n_time_, self.n_neurons_)

    def _code_dim(self) -> int:
        return self.code_dim

    def check_params(self) -> None:
        """Raise :class:`~neurognocchi._checks.InvalidArgumentError` naming the first invalid
        parameter (called by ``fit``; the architecture is checked last, with ``cebra``
        imported)."""
        super().check_params()
        cebra_windows.check_behavior_names(self.behavior_names, self.conditional)
        stretches = self.time_windows
        if self.code_dim % stretches:
            raise InvalidArgumentError(
                f"time_windows={stretches} must divide code_dim={self.code_dim} "
                "(code_dim = time_windows * output_dimension)"
            )
        self._new_network(n_neurons=1)  # an unknown or non-convolutional architecture

    def _new_network(self, n_neurons: int, seed: int = 0) -> torch.nn.Module:
        """CEBRA's network for ``n_neurons``, its initial weights drawn with ``seed`` (the
        global generator is left as it was)."""
        cebra = import_cebra()
        if self.model_architecture not in cebra.models.get_options():
            raise InvalidArgumentError(
                "model_architecture must name a network of cebra.models.get_options() (e.g. "
                f"'offset10-model', 'offset36-model'); got {self.model_architecture!r}"
            )
        output_dimension = self.code_dim // self.time_windows
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = cebra.models.init(
                self.model_architecture,
                num_neurons=n_neurons,
                num_units=self.num_hidden_units,
                num_output=output_dimension,
            )
        if not isinstance(network, cebra.models.ConvolutionalModelMixin):
            raise InvalidArgumentError(
                f"model_architecture={self.model_architecture!r} is not convolutional; "
                "CEBRA here embeds windows of trials: pick e.g. 'offset10-model'"
            )
        return network

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None):
        """Train on trials (every window inside one trial).

        Parameters
        ----------
        X : Trials or array, shape (n_trials, n_time, n_neurons)
        y : array (n_trials, n_time, n_behavior), optional
            CEBRA-Behavior's labels when X is an array (a `Trials` gives its ``behavior``);
            ignored by CEBRA-Time.

        Returns
        -------
        self
        """
        self.check_params()
        start = time.perf_counter()
        seed = check_random_state(self.random_state)
        activity = as_activity(X, name="X")
        labels, label_names = None, ()  # CEBRA-Time
        if self.conditional == "time_delta":
            labels, label_names = cebra_windows.behaviour_labels(
                X, y, activity.shape, self.behavior_names
            )
        n_trials, n_time, n_neurons = activity.shape
        scaler = NeuronScaler(n_neurons)
        scaler.load_statistics(neuron_statistics(activity))
        device = resolve_device(self.device)
        network = self._new_network(n_neurons, seed).to(device)
        offset = network.get_offset()
        if n_time < len(offset) + self.time_offsets:
            raise InvalidArgumentError(
                f"X has n_time={n_time}; {self.model_architecture!r} sees {len(offset)} bins "
                f"and positives lie time_offsets={self.time_offsets} bins later in the same "
                f"trial, so trials need at least {len(offset) + self.time_offsets} bins"
            )
        z = _normalize(scaler, activity).transpose(1, 2).contiguous().to(device)  # (n, N, T)
        labels = cebra_windows.window_labels(labels, offset)  # (n, n_windows, k) or None
        sampler = cebra_windows.WindowSampler(
            n_trials, n_time, len(offset), self.time_offsets, seed, labels=labels
        )
        self.history_ = self._train(network, z, sampler)
        self.model_ = network.eval()
        self.scaler_, self.device_ = scaler, device
        self.training_labels_ = label_names
        self.n_time_, self.n_neurons_ = n_time, n_neurons
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _train(self, network, z: torch.Tensor, sampler) -> list[dict]:
        """Adam on CEBRA's InfoNCE for ``max_iterations`` steps of windows of ``z`` (n, N, T)
        drawn by ``sampler`` (a `WindowSampler`); the loss history."""
        from tqdm.auto import tqdm

        cebra = import_cebra()
        loss_class = {
            "cosine": cebra.models.FixedCosineInfoNCE,
            "euclidean": cebra.models.FixedEuclideanInfoNCE,
        }[self.distance]
        criterion = loss_class(temperature=self.temperature)
        optimizer = torch.optim.Adam(network.parameters(), lr=self.learning_rate)
        windows = z.unfold(2, sampler.length, 1)  # (n, N, n_windows, length), a view
        every = max(1, self.max_iterations // N_HISTORY)
        history, losses = [], []
        network.train()
        for step in tqdm(range(self.max_iterations), disable=not self.verbose, desc="CEBRA"):
            trial, first = (t.to(z.device) for t in sampler.batch(self.batch_size))  # (3B,)
            embedding = network(windows[trial, :, first]).reshape(3, self.batch_size, -1)
            loss, _, _ = criterion(*embedding)  # reference, positive, negative
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if (step + 1) % every == 0 or step + 1 == self.max_iterations:
                history.append({"iteration": step + 1, "loss": float(np.mean(losses))})
                losses = []
        return history

    # ------------------------------------------------------------------ codes
    def encode(self, X, *, batch_size: int = 256) -> np.ndarray:
        """Codes of trials: mean embeddings of their windows over ``time_windows`` stretches.

        Parameters
        ----------
        X : Trials or array, shape (n_trials, n_time, n_neurons)
        batch_size : int
            Trials embedded together (the codes depend on it only through rounding; a trial's
            code depends on that trial alone).

        Returns
        -------
        array, shape (n_trials, code_dim), float32
        """
        self._check_fitted()
        activity = as_activity(X, name="X")
        self._check_trials_shape(activity, "X")
        batch_size = check_positive_int(batch_size, "batch_size")
        codes = []
        with torch.no_grad():
            for i in range(0, len(activity), batch_size):
                z = _normalize(self.scaler_, activity[i : i + batch_size]).transpose(1, 2)
                out = self.model_(z.contiguous().to(self.device_))  # (b, D, n_windows)
                out = out.reshape(len(z), self.code_dim // self.time_windows, -1).cpu()
                stretches = torch.tensor_split(out, self.time_windows, dim=2)
                codes.append(torch.cat([s.mean(dim=2) for s in stretches], dim=1))
        return torch.cat(codes).numpy().astype(np.float32)

    @property
    def variant(self) -> str:
        """ "CEBRA-Time" or "CEBRA-Behavior (supervised)": what the comparison calls it."""
        return "CEBRA-Time" if self.conditional == "time" else "CEBRA-Behavior (supervised)"

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model into the directory ``path`` (``config.json``, ``weights.pt``
        with the network's and the scaler's tensors, ``history.json``; atomically)."""
        self._check_fitted()
        state = {f"network.{k}": v for k, v in self.model_.state_dict().items()}
        state |= {f"scaler.{k}": v for k, v in self.scaler_.state_dict().items()}
        params = self.get_params()
        if params["behavior_names"] is not None:
            params["behavior_names"] = list(params["behavior_names"])
        shape = dict(n_time=self.n_time_, n_neurons=self.n_neurons_)
        return write_model_dir(
            path,
            estimator_name=type(self).__name__,
            params=params,
            model=shape | {"training_labels": list(self.training_labels_)},
            state=state,
            fit_seconds=self.fit_seconds_,
            history=self.history_,
        )

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | None = None):
        """Rebuild a CEBRA saved by :meth:`save` (needs ``cebra`` to build the network)."""
        saved = read_model_dir(path, estimator_name=cls.__name__)
        params = dict(saved.params)
        if params.get("behavior_names") is not None:
            params["behavior_names"] = tuple(params["behavior_names"])
        model = cls(**params)
        model.n_time_, model.n_neurons_ = saved.model["n_time"], saved.model["n_neurons"]
        model.training_labels_ = tuple(saved.model["training_labels"])
        model.device_ = resolve_device(model.device if device is None else device)
        network = model._new_network(model.n_neurons_)
        network.load_state_dict(_prefixed(saved.state, "network."))
        model.model_ = network.to(model.device_).eval()
        model.scaler_ = NeuronScaler(model.n_neurons_)
        model.scaler_.load_state_dict(_prefixed(saved.state, "scaler."))
        model.fit_seconds_, model.history_ = saved.fit_seconds, saved.history
        return model


def _prefixed(state: dict, prefix: str) -> dict:
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}


def _normalize(scaler: NeuronScaler, activity) -> torch.Tensor:
    """Per-neuron z-scores (float32 tensor (n, T, N)) of trials in data units."""
    with torch.no_grad():
        return scaler(torch.as_tensor(np.array(activity, dtype=np.float32)))
