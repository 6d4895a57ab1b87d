"""Pausing the cyclic garbage collector while building large acyclic data (evidence, reports)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off, then restore it as it was.

    Millions of acyclic dicts and tuples (a run's history, its indexes, a report's rows) make
    the collector rescan everything each time they grow and free nothing: at a million ops
    that turned a 10 s report into minutes, and 2× the history into 3× the checking time.
    Reference counting still frees everything; only cycles wait until the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            _age_young_objects()
            gc.enable()


# Objects a block must have made and kept before they are aged unseen (see below): a large
# evidence's or report's, not a small example's, whose cycles the next young pass frees.
AGE_AFTER = 100_000


def _age_young_objects() -> None:
    """Count the objects a large block made as old ones, without looking at them.

    Switched back on, the collector's first pass would otherwise be over every object the
    block made and kept (its youngest generation): 2.7 s of CPU in the workers judging ten
    million ops, each group's evidence scanned once more just before it was freed. A
    freeze then unfreeze moves them all into the oldest generation in constant time; a
    cycle among them is still collected, by the next full pass. Skipped for a small block
    (its cycles are freed sooner by a young pass, as before) and when someone froze objects
    on purpose: unfreezing would undo that.
    """
    if gc.get_count()[0] >= AGE_AFTER and gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


__all__ = ["gc_paused"]
