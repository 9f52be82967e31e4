"""Keyword arguments renamed in 0.2 and still accepted under their old names until 0.3.

A public function that renamed a keyword takes ``**renamed`` after its own arguments and passes
it here with the table of old -> new names; each old name used gives one ``DeprecationWarning``
pointing at the caller's line, and its value is returned under the new name.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

__all__ = ["renamed_keywords"]


def renamed_keywords(
    function: str, passed: Mapping, renames: Mapping[str, str], *, stacklevel: int = 3
) -> dict:
    """The values passed under old keyword names, keyed by their new names.

    Parameters
    ----------
    function : str
        Name of the public function, used in the messages.
    passed : mapping
        The extra keyword arguments the function received (its ``**renamed``).
    renames : mapping of old name -> new name
    stacklevel : int
        Passed to :func:`warnings.warn`; the default points at the public function's caller
        when the public function calls this one directly.

    Returns
    -------
    dict of new name -> value

    Raises
    ------
    TypeError
        For a keyword that is neither a parameter nor a renamed one (as Python would).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     renamed_keywords("evaluate", {"seed": 3}, {"seed": "random_state"})
    {'random_state': 3}
    >>> print(caught[0].message)
    evaluate(seed=...) is deprecated; use random_state= (the old name goes in 0.3)
    """
    unknown = sorted(set(passed) - set(renames))
    if unknown:
        raise TypeError(f"{function}() got an unexpected keyword argument {unknown[0]!r}")
    values = {}
    for old, value in passed.items():
        new = renames[old]
        warnings.warn(
            f"{function}({old}=...) is deprecated; use {new}= (the old name goes in 0.3)",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        values[new] = value
    return values
