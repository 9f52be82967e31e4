"""Grace periods for renamed names: the old name keeps working, with a ``DeprecationWarning``,
for one release.

One decorator for renamed keyword arguments (functions, methods and constructors alike) and one
warning for renamed attributes and methods, so every grace period reads the same way. Imports
nothing from the package.
"""

from __future__ import annotations

import functools
import warnings

__all__ = ["REMOVED_IN", "renamed_keywords", "warn_renamed"]

#: The release that removes the old names renamed in this one (one release of grace).
REMOVED_IN = "0.4"


def warn_renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new``.

    The default ``stacklevel`` points at the caller of the function that calls this one.
    """
    warnings.warn(
        f"{old} is deprecated; use {new} (the old name goes in {REMOVED_IN})",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def renamed_keywords(**old_to_new: str):
    """Decorate a callable so that each old keyword still works under its new name.

    Passing an old name gives one ``DeprecationWarning`` at the caller's line; passing both the
    old and the new name is a ``TypeError``, as a repeated keyword would be.

    Examples
    --------
    >>> import warnings
    >>> @renamed_keywords(seed="random_state")
    ... def split(n, *, random_state=0):
    ...     return n, random_state
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     split(4, seed=7)
    (4, 7)
    >>> print(caught[0].message)
    split(seed=...) is deprecated; use random_state=... (the old name goes in 0.4)
    """

    def decorate(function):
        name = function.__qualname__.replace(".__init__", "")

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            for old, new in old_to_new.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(f"{name}() got both {new}= and its deprecated name {old}=")
                warn_renamed(f"{name}({old}=...)", f"{new}=...")
                kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return wrapper

    return decorate
