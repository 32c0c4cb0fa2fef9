"""Set combinatorics shared by the diagram tables and the k-statistics (pure Python)."""

from __future__ import annotations

from typing import Iterator, Sequence

__all__ = ["set_partitions"]


def set_partitions(items: Sequence[int]) -> Iterator[list[list[int]]]:
    """All set partitions of ``items`` (Bell(len(items)) of them), each a list of blocks.

    Recursive: a partition of ``items[1:]`` either gains ``items[0]`` as a new singleton block
    or has it added to one of its blocks.  Cost O(Bell(n) n).
    """
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in set_partitions(rest):
        yield [[first], *part]
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1 :]]
