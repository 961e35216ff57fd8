"""Find the map node of each data segment, counting loops and segments: a mirror of pyx12 4.0.0's
map_walker.walk_tree.walk_errors on compiled rules.

How pyx12 walks (and so how we must walk, quirks included, because the goal is the same verdict):
- From the last matched segment, scan its loop's children whose pos >= that segment's pos, in order; a
  segment child matches on its tag plus the value of its qualifier element; a loop child matches when
  its first segment does (a loop whose first child is a loop matches when any child loop does).
- Nothing found: move up one loop, resuming at the pos of the loop just left; at the map root the data
  segment is "not found".
- A match on the first segment of the loop being scanned starts a new iteration of that loop.
- Entering a loop resets the counts of everything below it and counts the loop; entering through a
  "wrapper" (a loop whose first child is a loop) counts only the innermost loop entered. The descent
  tries child loops depth-first, so it may even enter a grandchild of an earlier sibling.
- Required segments/loops passed over while scanning are remembered as "missing" and reported only
  once a match is found, and then not if they sit at the same pos as the matched segment (a later
  sibling at that pos may still satisfy them), nor if the matched segment "equals" them by pyx12's node
  equality (same id, same parent id). When the segment is not found at all they are forgotten.
- Counts are keyed by path, so nodes sharing a path (same-id segments at different pos) share a count.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from rcm_runtime.x12_ig_maps import LoopRule, SegmentRule

Node = LoopRule | SegmentRule


@dataclass(slots=True)
class WalkError:
    code: str
    message: str
    node: Node | None  # pyx12 map_node: None for "not used" errors (they attach to the previous segment)
    loop_id: str | None


class Counter:
    """pyx12 NodeCounter on path strings."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def get(self, path: str) -> int:
        return self.counts.get(path, 0)

    def increment(self, path: str) -> None:
        self.counts[path] = self.counts.get(path, 0) + 1

    def reset_below(self, path: str) -> None:
        """reset_to_node: forget every count strictly below `path` (the path's own count stays)."""
        prefix = path + "/"
        stale = [k for k in self.counts if k.startswith(prefix)]
        for k in stale:
            del self.counts[k]

    def force_loop_start(self, loop_path: str, seg_path: str) -> None:
        """walk_tree.forceWalkCounterToLoopStart, used for ISA and GS."""
        self.reset_below(loop_path)
        self.increment(loop_path)
        self.increment(seg_path)


def qualifier_value(seg: SegmentRule, elements: list[str], sub: str) -> str | None:
    """The data value segment_if.is_match compares: Segment.get_value('01') (components re-joined
    without trailing empty ones) or get_value('01-1') (first component)."""
    idx, comp, _ = seg.qualifier  # type: ignore[misc]
    if idx >= len(elements):
        return None
    raw = elements[idx]
    if comp is None:
        return raw.rstrip(sub)
    return raw.split(sub, 1)[0]


def is_match(seg: SegmentRule, tag: str, elements: list[str], sub: str) -> bool:
    if seg.tag != tag:
        return False
    q = seg.qualifier
    if q is None:
        return True
    return qualifier_value(seg, elements, sub) in q[2]


class Walker:
    """One walker per validation run (it owns the counts)."""

    __slots__ = ("counter", "missing", "pending")

    def __init__(self) -> None:
        self.counter = Counter()
        self.missing: list[tuple[SegmentRule, WalkError]] = []
        self.pending: list[WalkError] = []

    def walk(self, node: Node, tag: str, elements: list[str], sub: str) -> tuple[SegmentRule | None, list[WalkError]]:
        """The map node for this data segment (None: not found) and the errors met on the way."""
        self.missing = []
        self.pending = []
        orig = node
        start = node.pos
        loop = node if node.is_loop else node.loop
        while True:
            found, done = self._scan(loop, start, tag, elements, sub)
            if done:
                return found, self.pending
            if loop.is_root:
                self.pending.append(WalkError("segment_not_found", f"segment {tag} is not expected here "
                                              f"(searched from {_where(orig)})", orig, _loop_id(orig)))
                return None, self.pending
            start = loop.pos
            loop = loop.parent  # type: ignore[assignment]

    def _scan(self, loop: LoopRule, start: int, tag: str, elements: list[str],
              sub: str) -> tuple[SegmentRule | None, bool]:
        children = loop.children
        counts = self.counter.counts
        visit = loop.scan_by_tag.get(tag, loop.scan_default)  # type: ignore[union-attr]
        first = bisect_left(visit, bisect_left(loop.child_pos, start))
        for k in range(first, len(visit)):
            child = children[visit[k]]
            if child.is_loop:
                if self._loop_matches(child, tag, elements, sub):
                    return self._enter(child, tag, elements, sub), True
                continue
            if child.tag == tag and (child.qualifier is None
                                     or qualifier_value(child, elements, sub) in child.qualifier[2]):
                if not loop.is_root and self._loop_matches(loop, tag, elements, sub):
                    return self._enter(loop, tag, elements, sub), True  # a new iteration of this loop
                return self._take_segment(child), True
            if child.usage == "R" and counts.get(child.path, 0) < 1:
                self.missing.append((child, WalkError(
                    "mandatory_segment_missing", f"required segment {child.tag} ({child.name}) is missing",
                    child, child.loop.id)))
        return None, False

    def _take_segment(self, seg: SegmentRule) -> SegmentRule:
        self.counter.increment(seg.path)
        if seg.usage == "N":
            self.pending.append(WalkError("segment_not_used", f"segment {seg.tag} is marked as not used "
                                          f"in loop {seg.loop.id}", None, seg.loop.id))
        else:
            found = self.counter.get(seg.path)
            if found > seg.max_use:
                self.pending.append(WalkError("segment_max_use_exceeded", f"segment {seg.tag} occurs {found} "
                                              f"times, at most {seg.max_use} allowed", seg, seg.loop.id))
        key = seg.eq_key
        self.missing = [m for m in self.missing if m[0].eq_key != key]
        self._flush_missing(seg.pos)
        return seg

    def _loop_matches(self, loop: LoopRule, tag: str, elements: list[str], sub: str) -> bool:
        """walk_tree._is_loop_match, including its side effect of remembering a missing required loop."""
        first = loop.first
        if first is None:
            return False
        if first.is_loop:
            return any(self._loop_matches(c, tag, elements, sub) for c in loop.child_loops)
        if is_match(first, tag, elements, sub):
            return True
        if loop.usage == "R" and self.counter.get(loop.path) < 1:
            self.missing.append((first, WalkError("mandatory_loop_missing", f"required loop {loop.id} "
                                                  f"({loop.name}) is missing", first, loop.id)))
        return False

    def _enter(self, loop: LoopRule, tag: str, elements: list[str], sub: str) -> SegmentRule | None:
        """walk_tree._goto_seg_match: enter `loop` at its first segment, else descend into child loops."""
        first = loop.first_seg
        if first is not None and is_match(first, tag, elements, sub):
            self._count_loop(loop)
            self.counter.increment(first.path)
            self._flush_missing(None)
            return first
        for child in loop.child_loops:
            found = self._enter(child, tag, elements, sub)
            if found is not None:
                return found
        return None

    def _count_loop(self, loop: LoopRule) -> None:
        if loop.usage == "N":
            # pyx12 neither resets nor counts a not-used loop
            self.pending.append(WalkError("loop_not_used", f"loop {loop.id} is marked as not used", None, loop.id))
            return
        if loop.usage not in ("R", "S"):
            return
        self.counter.reset_below(loop.path)
        self.counter.increment(loop.path)
        found = self.counter.get(loop.path)
        if found > loop.max_repeat:
            self.pending.append(WalkError("loop_repeat_exceeded", f"loop {loop.id} repeats {found} times, at "
                                          f"most {loop.max_repeat} allowed", loop, loop.id))

    def _flush_missing(self, keep_pos: int | None) -> None:
        kept = []
        for seg, err in self.missing:
            if seg.pos == keep_pos:
                kept.append((seg, err))
            else:
                self.pending.append(err)
        self.missing = kept


def _loop_id(node: Node) -> str:
    return node.id if node.is_loop else node.loop.id


def _where(node: Node) -> str:
    return f"loop {node.id}" if node.is_loop else f"{node.tag} in loop {node.loop.id}"
