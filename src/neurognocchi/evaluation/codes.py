"""Code-space read-outs in one frame for every model (issue 16, fairness rules (e) and (h)).

A model's codes are only defined up to an invertible affine map (GNOCCHI whitens its codes,
LFADS does not), so a number that compares models must not depend on that map. Here:

* :func:`whiten_codes` maps codes into the frame in which a reference set of codes (e.g. the
  training trials) has zero mean and identity covariance;
* :func:`code_direction_cosines` gives the |cos| between the variables' encoding directions
  (least squares ``code = A v + b``) and between their decoding directions (least squares
  ``v = B code + d``), both in that whitened frame, so they are invariant to any invertible
  affine map applied to codes and reference together;
* :func:`participation_ratio` is the effective dimension of the code covariance. It is
  invariant to rotations, translations and scaling, *not* to a general affine map (whitened
  codes have a ratio equal to ``code_dim`` by construction): compute it on a model's raw,
  unwhitened codes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from neurognocchi._checks import InvalidArgumentError, check_finite_array, check_real
from neurognocchi.evaluation.navigation import direction_cosines, navigation_directions

__all__ = ["DirectionCosines", "code_direction_cosines", "participation_ratio", "whiten_codes"]


def _codes(value, name: str) -> np.ndarray:
    """``value`` as a finite float64 (n_trials, code_dim) array with n_trials >= 2."""
    array = check_finite_array(value, name, ndim=2).astype(np.float64)
    if array.shape[0] < 2 or array.shape[1] < 1:
        raise InvalidArgumentError(
            f"{name} needs at least 2 trials and 1 code dimension; got shape {array.shape}"
        )
    return array


def participation_ratio(codes) -> float:
    """Effective dimension ``(sum_i lambda_i)^2 / sum_i lambda_i^2`` of the code covariance.

    ``lambda_i`` are the eigenvalues of the covariance of ``codes`` over trials; the ratio is
    computed as ``trace(C)^2 / ||C||_F^2``, which equals it without an eigendecomposition.
    It lies in ``[1, code_dim]``: 1 when all variance lies along one direction, ``code_dim``
    when the covariance is isotropic. Invariant to rotation, translation and scaling of the
    codes but not to a general affine map (see the module docstring).

    Parameters
    ----------
    codes : array (n_trials, code_dim), n_trials >= 2

    Returns
    -------
    float
        NaN when every code is the same (zero covariance).

    Examples
    --------
    >>> codes = np.array([[1.0, 2.0], [1.0, -2.0], [-1.0, 2.0], [-1.0, -2.0]])
    >>> participation_ratio(codes)  # eigenvalues in ratio 1 : 4 -> 25 / 17
    1.4705882352941178
    """
    codes = _codes(codes, "codes")
    centred = codes - codes.mean(axis=0)  # (n_trials, code_dim)
    covariance = centred.T @ centred  # (code_dim, code_dim); the scale cancels in the ratio
    frobenius_sq = float((covariance**2).sum())
    if frobenius_sq == 0:
        return float("nan")
    return float(np.trace(covariance) ** 2 / frobenius_sq)


def whiten_codes(codes, reference, *, eigenvalue_floor: float = 1e-10) -> np.ndarray:
    """Codes in the frame where ``reference`` has zero mean and identity covariance.

    ``z = (codes - mean(reference)) @ W`` with the symmetric (ZCA) whitening matrix
    ``W = V diag(lambda^-1/2) V^T`` of the reference covariance (ddof 1, eigenpairs
    ``lambda, V``). Eigenvalues at or below ``eigenvalue_floor * max(lambda)`` are treated as
    zero (a pseudo-inverse): directions in which the reference does not vary map to 0, so a
    collapsed code dimension is dropped rather than blown up.

    If codes and reference are both mapped by ``c -> c @ M + b`` (``M`` invertible), the
    result changes only by an orthogonal rotation, so every angle and length computed from
    it is unchanged; with ``codes = reference`` the output has identity covariance on the
    retained directions.

    Parameters
    ----------
    codes : array (n_codes, code_dim)
        The codes to map (any number of rows, e.g. navigated codes).
    reference : array (n_reference, code_dim), n_reference >= 2
        Codes that define the frame, e.g. the training trials' codes.
    eigenvalue_floor : float in [0, 1), optional
        Relative eigenvalue floor of the pseudo-inverse.

    Returns
    -------
    array (n_codes, code_dim)

    Examples
    --------
    >>> reference = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [2.0, 4.0]])
    >>> whiten_codes(reference, reference).std(axis=0, ddof=1)
    array([1., 1.])
    """
    reference = _codes(reference, "reference")
    codes = check_finite_array(codes, "codes", ndim=2).astype(np.float64)
    if codes.shape[1] != reference.shape[1]:
        raise InvalidArgumentError(
            f"codes and reference must have one code_dim; got {codes.shape}, {reference.shape}"
        )
    floor = check_real(eigenvalue_floor, "eigenvalue_floor", low=0.0, high=1.0, high_open=True)
    mean = reference.mean(axis=0)  # (code_dim,)
    code_dim = reference.shape[1]
    covariance = np.cov(reference, rowvar=False, ddof=1).reshape(code_dim, code_dim)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending, (L,), (L, L)
    kept = eigenvalues > floor * max(float(eigenvalues.max()), 0.0)
    if not kept.any():
        raise InvalidArgumentError("reference codes must vary (their covariance is zero)")
    basis = eigenvectors[:, kept]  # (code_dim, rank)
    whitening = (basis / np.sqrt(eigenvalues[kept])) @ basis.T  # (code_dim, code_dim)
    return (codes - mean) @ whitening


class DirectionCosines(NamedTuple):
    """|cos| matrices (n_variables, n_variables) of :func:`code_direction_cosines`.

    ``encoding``: between the variables' encoding directions (columns of ``A`` in
    ``code = A v + b``). ``decoding``: between their decoding directions (rows of ``B`` in
    ``v = B code + d``). Both in the whitened frame of the reference codes.
    """

    encoding: np.ndarray
    decoding: np.ndarray


def code_direction_cosines(codes, variables, *, reference=None) -> DirectionCosines:
    """|cos| between the variables' code directions, in the whitened frame of ``reference``.

    The codes are first mapped by :func:`whiten_codes` with ``reference`` (default: the codes
    themselves). Encoding directions are the columns of ``A`` of the least-squares fit
    ``z = A v + b`` over trials (as :func:`.navigation_directions`);
    decoding directions are the rows of ``B`` of the least-squares fit ``v = B z + d``
    (ordinary least squares, minimum-norm where ``z`` is rank deficient; no ridge, whose
    penalty would depend on the frame). Both are therefore invariant to an invertible affine
    map of a model's codes, applied to codes and reference alike, and comparable across
    models. A zero direction has NaN cosines.

    Parameters
    ----------
    codes : array (n_trials, code_dim)
    variables : array (n_trials, n_variables)
    reference : array (n_reference, code_dim), optional
        Codes that define the frame, e.g. training trials' codes; default ``codes``.

    Returns
    -------
    DirectionCosines
        ``encoding`` and ``decoding``, each (n_variables, n_variables), 1 on the diagonal.

    Examples
    --------
    Two uncorrelated variables encoded without noise along raw directions (1, 0) and (1, 1)
    (raw |cos| 0.71) are orthogonal in the codes' own frame, whatever their raw geometry:

    >>> variables = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> codes = variables @ np.array([[1.0, 0.0], [1.0, 1.0]])  # (4 trials, code_dim 2)
    >>> code_direction_cosines(codes, variables).encoding.round(6)
    array([[1., 0.],
           [0., 1.]])
    """
    codes = _codes(codes, "codes")
    variables = check_finite_array(variables, "variables", ndim=2).astype(np.float64)
    if len(variables) != len(codes):
        raise InvalidArgumentError(
            f"codes and variables must have one row per trial; got {codes.shape}, {variables.shape}"
        )
    whitened = whiten_codes(codes, codes if reference is None else reference)  # (n, L)
    encoding = navigation_directions(whitened, variables)[0]  # (L, V)
    design = np.column_stack([whitened, np.ones(len(whitened))])  # (n, L + 1)
    decoding = np.linalg.lstsq(design, variables, rcond=None)[0][:-1]  # (L, V)
    return DirectionCosines(direction_cosines(encoding), direction_cosines(decoding))
