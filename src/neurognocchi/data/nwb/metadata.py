"""Session and subject metadata of the NWB files the package writes.

Every writer (:func:`~neurognocchi.data.nwb.write.save_nwb`,
:func:`~neurognocchi.data.nwb.samples.save_samples_nwb` and the fixture generator
:func:`~neurognocchi.data.nwb.synthetic.make_random_target_nwb`) describes its file with the
fields `nwbinspector <https://nwbinspector.readthedocs.io>`_ checks: a session and an
experiment description, keywords, optionally experimenters, institution and lab, and a
``Subject`` with an id, species, sex and age. A writer computes defaults from what it writes;
:func:`merge_metadata` checks what the caller gave and lays it over them.

Placeholders, for what cannot be known:

* synthetic and generated data have no animal: the species is NCBI Taxonomy's "synthetic
  construct" (:data:`SYNTHETIC_SPECIES`) and the subject's description says how the data
  were made;
* an unknown age is :data:`UNKNOWN_AGE` (``"P0D/"``, the ISO 8601 range "zero days or older")
  and an unknown sex ``"U"``;
* the session start is :data:`SESSION_START`: the files are not tied to a recording date.

This module does not import pynwb; it prepares plain values that the writers pass to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

from neurognocchi._checks import InvalidArgumentError, check_choice

__all__ = [
    "SESSION_START",
    "SUBJECT_FIELDS",
    "SUBJECT_SEXES",
    "SYNTHETIC_SPECIES",
    "UNKNOWN_AGE",
    "merge_metadata",
]

# NCBI Taxonomy 32630, "synthetic construct": the taxonomy's term for what no organism made.
SYNTHETIC_SPECIES = "http://purl.obolibrary.org/obo/NCBITaxon_32630"
UNKNOWN_AGE = "P0D/"
SESSION_START = datetime(2000, 1, 1, tzinfo=timezone.utc)
# The keywords of pynwb.file.Subject that a caller may set; the inspector reads the first four.
SUBJECT_FIELDS = (
    "subject_id",
    "species",
    "sex",
    "age",
    "description",
    "strain",
    "genotype",
    "weight",
)
# NWB's sex codes: male, female, unknown, other.
SUBJECT_SEXES = ("M", "F", "U", "O")
_TEXT_FIELDS = ("session_description", "experiment_description", "institution", "lab")
_LIST_FIELDS = ("experimenter", "keywords")


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{name} must be a non-empty str; got {value!r}")
    return value


def _names(value: object, name: str) -> tuple[str, ...]:
    """A str or a sequence of str as a non-empty tuple of str."""
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not items:
        raise InvalidArgumentError(
            f"{name} must be a str or a non-empty sequence of str; got {value!r}"
        )
    return tuple(_text(item, f"{name}[{i}]") for i, item in enumerate(items))


def _subject(given: object, defaults: Mapping[str, str]) -> dict[str, str]:
    """The subject fields of ``given`` (a mapping, or None) laid over ``defaults``."""
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise InvalidArgumentError(
            f"subject must be a mapping of {', '.join(SUBJECT_FIELDS)}; got {type(given).__name__}"
        )
    unknown = sorted(set(given) - set(SUBJECT_FIELDS))
    if unknown:
        raise InvalidArgumentError(
            f"subject has unknown fields {unknown}; allowed: {', '.join(SUBJECT_FIELDS)}"
        )
    fields = dict(defaults)
    for key, value in given.items():
        if value is not None:
            fields[key] = _text(value, f"subject[{key!r}]")
    if "sex" in fields:
        check_choice(fields["sex"], "subject['sex']", SUBJECT_SEXES)
    return fields


def merge_metadata(defaults: Mapping[str, object], **given: object) -> dict[str, object]:
    """The caller's metadata laid over a writer's ``defaults``, checked.

    Parameters
    ----------
    defaults : mapping
        The writer's values of ``session_description``, ``experiment_description``,
        ``keywords`` (and optionally ``experimenter``, ``institution``, ``lab``) and
        ``subject`` (a mapping of :data:`SUBJECT_FIELDS`).
    **given
        The caller's values of the same names; None keeps the default. ``experimenter`` and
        ``keywords`` are a str or a sequence of str (experimenters as ``"Last, First"``);
        ``subject`` is a mapping whose fields replace the default subject's one by one.

    Returns
    -------
    dict
        Keyword arguments of ``pynwb.NWBFile`` (None values dropped), with ``subject`` as a
        dict of ``pynwb.file.Subject`` keywords.

    Raises
    ------
    InvalidArgumentError
        For an unknown name, an empty or non-str value, an unknown subject field or a
        ``subject['sex']`` other than M, F, U or O; the message names the argument.

    Examples
    --------
    >>> defaults = {"session_description": "toy", "keywords": ["toy"], "subject": {"sex": "U"}}
    >>> merged = merge_metadata(defaults, institution="Emory University", subject={"sex": "F"})
    >>> merged["institution"], merged["keywords"], merged["subject"]
    ('Emory University', ['toy'], {'sex': 'F'})
    """
    unknown = sorted(set(given) - {*_TEXT_FIELDS, *_LIST_FIELDS, "subject"})
    if unknown:
        raise InvalidArgumentError(f"unknown metadata arguments {unknown}")
    merged: dict[str, object] = {}
    for name in (*_TEXT_FIELDS, *_LIST_FIELDS):
        value = given.get(name)
        value = defaults.get(name) if value is None else value
        if value is None:
            continue
        merged[name] = _text(value, name) if name in _TEXT_FIELDS else list(_names(value, name))
    merged["subject"] = _subject(given.get("subject"), defaults.get("subject") or {})
    return merged
