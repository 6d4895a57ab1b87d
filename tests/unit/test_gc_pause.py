"""gc_paused: the cyclic collector is off inside the block and as it was after it."""

from __future__ import annotations

import gc

import pytest

from harness.gc_pause import AGE_AFTER, gc_paused


def test_the_collector_is_off_inside_and_restored_after_even_on_error() -> None:
    """On before: off inside, on after, also when the block raises; off before: stays off."""
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_what_a_large_block_made_is_old_after_it_and_a_cycle_is_still_collected() -> None:
    """The objects a large block made leave it in the oldest generation (the next young pass
    does not scan them all again), and a cycle among them is still freed by a full pass; a
    small block's stay young, for the next young pass to free their cycles."""
    gc.enable()
    with gc_paused():
        kept = [[n] for n in range(2 * AGE_AFTER)]
        cycle: list[object] = []
        cycle.append(cycle)
    assert all(o is not kept for o in gc.get_objects(generation=0))
    assert any(o is kept for o in gc.get_objects(generation=2))
    del cycle
    assert gc.collect() >= 1
    gc.collect()
    with gc_paused():
        small = [[n] for n in range(100)]
    assert all(o is not small for o in gc.get_objects(generation=2))


def test_objects_someone_froze_stay_frozen() -> None:
    gc.enable()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with gc_paused():
            made = [[n] for n in range(2 * AGE_AFTER)]
        assert gc.get_freeze_count() == frozen
        assert all(o is not made for o in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()
