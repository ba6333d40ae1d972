"""Channel payloads for the mapper tests: the shared fixtures, and damaging a payload at any path."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

from hypothesis import strategies as st

from app.domain.capture import MappingError

REPO_ROOT = Path(__file__).resolve().parents[3]
DELETE = object()  # as a new value: remove the key instead


def load_fixture(name: str):
    shared = Path(os.environ.get("KEEL_SHARED") or REPO_ROOT.parent / "shared")
    return json.loads((shared / "fixtures" / "channels" / name).read_text(encoding="utf-8"))


def paths_in(value, prefix=()):
    """Every path (a tuple of keys and indexes) in a JSON document, the document itself first."""
    yield prefix
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from paths_in(child, (*prefix, key))


def replaced(document, path, new_value):
    """A copy of the document with the value at `path` replaced by new_value, or removed for DELETE."""
    changed = copy.deepcopy(document)
    *parents, leaf = path
    target = changed
    for key in parents:
        target = target[key]
    if new_value is DELETE:
        del target[leaf]
    else:
        target[leaf] = new_value
    return changed


def json_values(odd_texts: list[str]):
    """Small JSON values of every type, with texts a channel might send by mistake."""
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
        | st.sampled_from(odd_texts),
        lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
        max_leaves=4,
    )


def mapped_or_refused(parse, payload):
    """What parse made of the payload, or None when it refused it with a MappingError naming a field and a reason."""
    try:
        return parse(payload)
    except MappingError as error:
        assert error.field and error.reason
        return None
