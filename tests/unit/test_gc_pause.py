"""gc_paused: the cyclic collector is off inside the block and as it was after it."""

from __future__ import annotations

import gc

import pytest

from harness.gc_pause import gc_paused


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
