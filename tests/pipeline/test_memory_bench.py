"""bench/memory.py's accounting: what it counts, and that a small run holds every vessel.

The benchmark prints figures and never asserts; these check the walk it relies on, so a
wrong figure (a shared report counted twice, a deque's spare block missed, vessels expired
mid-run) fails here rather than going unnoticed in a report.
"""

from __future__ import annotations

import sys
from collections import deque
from types import ModuleType

import pytest

from tests.conftest import load_bench


@pytest.fixture(scope="module")
def memory() -> ModuleType:
    return load_bench("memory")


def test_a_shared_object_counts_once_for_the_first_label(memory: ModuleType) -> None:
    shared = [float(i) + 0.5 for i in range(10)]
    first, second = {"a": shared}, {"b": shared}  # both alive: ids are not reused
    walker = memory.Walker(set(), traced=False)
    walker.add("first", first)
    walker.add("second", second)
    alone = sys.getsizeof(shared) + sum(sys.getsizeof(x) for x in shared)
    # str keys included: get_referents leaves them out of an all-str-keyed dict
    assert walker.bytes["first"] == sys.getsizeof(first) + sys.getsizeof("a") + alone
    assert walker.bytes["second"] == sys.getsizeof(second) + sys.getsizeof("b")


def test_baseline_objects_are_not_counted_but_what_hangs_off_them_is(
    memory: ModuleType,
) -> None:
    old_list: list[object] = []
    old = {id(old_list)}
    new = [1.5, 2.5]
    old_list.append(new)
    root = {"k": old_list}
    walker = memory.Walker(old, traced=False)
    walker.add("x", root)
    assert walker.bytes["x"] == (
        sys.getsizeof(root) + sys.getsizeof("k") + sys.getsizeof(new) + 2 * sys.getsizeof(1.5)
    )


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="reads CPython 3.11's deque")
def test_a_sliding_deque_counts_its_spare_block(memory: ModuleType) -> None:
    window: deque[None] = deque(maxlen=4)
    window.extend([None] * 200)  # moved through blocks: keeps the one it left
    walker = memory.Walker({id(None)}, traced=False)
    walker.add("w", window)
    assert walker.bytes["w"] == sys.getsizeof(window) + 64 * 8 + 16


def test_a_small_run_holds_every_vessel_and_splits_its_bytes(
    memory: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = memory.load_sources(min_span_s=3 * 3600.0)
    result = memory.run(300, 600.0, sources, exact=False, top=5)
    assert result["held"] == 300
    assert result["track"] > 0
    assert result["beyond"] > 0
    assert abs(result["bytes"] - result["track"] - result["beyond"]) <= 1
    out = capsys.readouterr().out
    assert "vessels held at the end: 300 of 300 (expired 0" in out
    assert "detector anchor_drag" in out
