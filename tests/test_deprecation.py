"""The helper for grace periods of renamed names: old keywords warn, both names at once is an
error."""

import pytest

from neurognocchi._deprecation import renamed_keywords


@renamed_keywords(seed="random_state", n_steps="n_traversal_steps")
def _traverse(*, random_state=0, n_traversal_steps=5):
    return random_state, n_traversal_steps


def test_old_keyword_warns_at_the_callers_line_and_is_passed_on():
    message = r"_traverse\(seed=\.\.\.\).*random_state"
    with pytest.warns(DeprecationWarning, match=message) as caught:
        assert _traverse(seed=3) == (3, 5)
    assert caught[0].filename == __file__


def test_old_and_new_keyword_together_is_a_type_error():
    with pytest.raises(TypeError, match="both random_state= and its deprecated name seed="):
        _traverse(seed=3, random_state=4)
