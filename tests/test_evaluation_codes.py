"""The code frame (issue 16, items 6 and 10): whitening, affine-invariant cosines, and the
participation ratio."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurognocchi.evaluation import (
    code_direction_cosines,
    direction_cosines,
    navigation_directions,
    participation_ratio,
    whiten_codes,
)


def _random_affine(rng, dim):
    """A random invertible map M (condition number < 50) and offset c."""
    while True:
        matrix = rng.normal(size=(dim, dim))
        if np.linalg.cond(matrix) < 50:
            return matrix, rng.normal(size=dim) * 5


# ---------------------------------------------------------------------- participation ratio
def test_participation_ratio_closed_form():
    signs = np.array([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)], float)
    codes = signs * np.array([1.0, 1.0, math.sqrt(2.0)])  # covariance proportional to (1, 1, 2)
    assert participation_ratio(codes) == pytest.approx(16 / 6, rel=1e-12)


def test_participation_ratio_isotropic_and_rank_one():
    rng = np.random.default_rng(0)
    assert participation_ratio(rng.normal(size=(20000, 8))) == pytest.approx(8.0, abs=0.05)
    line = rng.normal(size=(300, 1)) * rng.normal(size=(1, 6)) + rng.normal(size=6)
    assert participation_ratio(line) == pytest.approx(1.0, abs=1e-12)


def test_participation_ratio_invariant_to_rotation_scaling_translation_only():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(400, 5)) * np.array([3.0, 2.0, 1.0, 0.3, 0.1])
    rotation = np.linalg.qr(rng.normal(size=(5, 5)))[0]
    value = participation_ratio(codes)
    moved = participation_ratio(3.7 * codes @ rotation + rng.normal(size=5))
    assert moved == pytest.approx(value, rel=1e-10)
    # Not invariant to a general affine map: whitened codes are isotropic by construction.
    assert value < 3.0
    assert participation_ratio(whiten_codes(codes, codes)) == pytest.approx(5.0, rel=1e-10)


def test_participation_ratio_degenerate_inputs():
    assert math.isnan(participation_ratio(np.ones((4, 3))))
    with pytest.raises(ValueError, match="codes needs at least 2 trials"):
        participation_ratio(np.ones((1, 3)))
    with pytest.raises(ValueError, match="codes contains 1 NaN"):
        participation_ratio([[0.0, 1.0], [np.nan, 2.0]])


# ---------------------------------------------------------------------- whitening
def test_whitened_reference_has_zero_mean_and_identity_covariance():
    rng = np.random.default_rng(2)
    reference = rng.normal(size=(200, 4)) @ rng.normal(size=(4, 4)) + 10.0
    whitened = whiten_codes(reference, reference)
    np.testing.assert_allclose(whitened.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(np.cov(whitened, rowvar=False), np.eye(4), atol=1e-10)
    # Other codes use the reference's statistics: its mean maps to the origin.
    np.testing.assert_allclose(
        whiten_codes(reference.mean(0, keepdims=True), reference), 0.0, atol=1e-10
    )


def test_whitening_is_affine_equivariant_up_to_a_rotation():
    rng = np.random.default_rng(3)
    reference, codes = rng.normal(size=(100, 3)) * [1.0, 4.0, 0.2], rng.normal(size=(7, 3))
    matrix, offset = _random_affine(rng, 3)
    plain = whiten_codes(codes, reference)
    mapped = whiten_codes(codes @ matrix + offset, reference @ matrix + offset)
    np.testing.assert_allclose(mapped @ mapped.T, plain @ plain.T, atol=1e-8)  # same Gram


def test_whitening_drops_directions_where_the_reference_does_not_vary():
    rng = np.random.default_rng(4)
    t = rng.normal(size=(50, 1))
    reference = np.hstack([t, 2 * t, np.zeros((50, 1))])  # rank 1
    whitened = whiten_codes(reference, reference)
    assert np.all(np.isfinite(whitened))
    np.testing.assert_allclose(
        np.linalg.eigvalsh(np.cov(whitened, rowvar=False)), [0, 0, 1], atol=1e-10
    )
    # A code orthogonal to the reference's direction (1, 2, 0) maps where the origin does.
    off_support = whiten_codes(np.array([[2.0, -1.0, 5.0]]), reference)
    np.testing.assert_allclose(off_support, whiten_codes(np.zeros((1, 3)), reference), atol=1e-10)


def test_whiten_codes_errors():
    reference = np.random.default_rng(5).normal(size=(10, 3))
    with pytest.raises(ValueError, match="one code_dim"):
        whiten_codes(np.zeros((2, 2)), reference)
    with pytest.raises(ValueError, match="covariance is zero"):
        whiten_codes(reference, np.ones((10, 3)))
    with pytest.raises(ValueError, match="eigenvalue_floor"):
        whiten_codes(reference, reference, eigenvalue_floor=1.0)


# ---------------------------------------------------------------------- cosines in one frame
def _encoded(rng, n, noise_cov):
    """Two independent unit-variance variables along e1 and e2, plus correlated noise."""
    variables = rng.normal(size=(n, 2))
    variables = whiten_codes(variables, variables)  # exactly uncorrelated, unit variance
    noise = rng.multivariate_normal(np.zeros(2), noise_cov, size=n)
    return variables + noise, variables


def test_cosines_unchanged_by_an_invertible_affine_map_of_the_codes():
    rng = np.random.default_rng(6)
    variables = rng.normal(size=(600, 4)) @ rng.normal(size=(4, 4))  # correlated variables
    codes = variables @ rng.normal(size=(4, 6)) + rng.normal(size=(600, 6)) * [3, 1, 1, 1, 0.3, 0.1]
    matrix, offset = _random_affine(rng, 6)
    train, test = slice(0, 400), slice(400, None)
    for reference in (None, "train"):
        ref = None if reference is None else codes[train]
        ref_mapped = None if reference is None else codes[train] @ matrix + offset
        plain = code_direction_cosines(codes[test], variables[test], reference=ref)
        mapped = code_direction_cosines(
            codes[test] @ matrix + offset, variables[test], reference=ref_mapped
        )
        np.testing.assert_allclose(mapped.encoding, plain.encoding, atol=1e-8)
        np.testing.assert_allclose(mapped.decoding, plain.decoding, atol=1e-8)
        assert plain.encoding[0, 1] > 0.05  # not trivially zero: the test can fail
    # The raw-frame cosine of DESIGN §7.5 is not invariant.
    raw = direction_cosines(navigation_directions(codes, variables)[0])
    raw_mapped = direction_cosines(navigation_directions(codes @ matrix + offset, variables)[0])
    assert np.abs(raw - raw_mapped).max() > 0.05


def test_whitened_frame_cosine_closed_form_and_the_frame_bug_it_fixes():
    # Noise covariance s^2 [[1, r], [r, 1]] with s^2 = 1, r = 0.8: the code covariance is
    # [[2, .8], [.8, 2]], whose inverse gives |cos| = 0.8 / 2 = 0.4 between e1 and e2.
    codes, variables = _encoded(np.random.default_rng(7), 20000, [[1.0, 0.8], [0.8, 1.0]])
    raw = direction_cosines(navigation_directions(codes, variables)[0])[0, 1]
    assert raw == pytest.approx(0.0, abs=0.03)
    cosines = code_direction_cosines(codes, variables)
    assert cosines.encoding[0, 1] == pytest.approx(0.4, abs=0.03)
    # Uncorrelated unit-variance variables: decoding and encoding directions coincide.
    assert cosines.decoding[0, 1] == pytest.approx(cosines.encoding[0, 1], abs=1e-6)
    np.testing.assert_allclose(np.diag(cosines.encoding), 1.0)
    # The bug of issue 16: one model reporting whitened codes, the other raw codes, gave
    # different raw-frame cosines for the same code geometry; the common frame does not.
    self_whitened = whiten_codes(codes, codes)
    raw_whitened = direction_cosines(navigation_directions(self_whitened, variables)[0])[0, 1]
    assert abs(raw_whitened - raw) > 0.3
    same = code_direction_cosines(self_whitened, variables)
    np.testing.assert_allclose(same.encoding, cosines.encoding, atol=1e-8)
    np.testing.assert_allclose(same.decoding, cosines.decoding, atol=1e-8)


def test_code_direction_cosines_errors():
    codes = np.random.default_rng(8).normal(size=(10, 3))
    with pytest.raises(ValueError, match="one row per trial"):
        code_direction_cosines(codes, np.zeros((9, 2)))
    with pytest.raises(ValueError, match="variables contains 1 NaN"):
        code_direction_cosines(codes, np.r_[np.zeros((9, 2)), [[np.nan, 0.0]]])
