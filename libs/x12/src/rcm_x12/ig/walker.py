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

from rcm_x12.ig.rules import LoopRule, SegmentRule

Node = LoopRule | SegmentRule


@dataclass(slots=True)
class WalkError:
    code: str
    message: str
    node: Node | None  # pyx12 map_node: None for "not used" errors (they attach to the previous segment)
    loop_id: str | None


class Counter:
    """pyx12 NodeCounter on path strings.

    pyx12 forgets counts by scanning every key for a path prefix. We keep, for each path, the set of
    its child paths that hold counts somewhere below (wrapper loops are never counted themselves but
    still link their children), so forgetting a subtree touches only that subtree.
    """

    __slots__ = ("counts", "below")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.below: dict[str, set[str]] = {}

    def get(self, path: str) -> int:
        return self.counts.get(path, 0)

    def increment(self, path: str) -> None:
        counts = self.counts
        if path in counts:
            counts[path] += 1
            return
        counts[path] = 1
        self._link(path)

    def _link(self, path: str) -> None:
        below = self.below
        while True:
            parent = _parent(path)
            if parent is None:
                return
            children = below.get(parent)
            if children is None:
                below[parent] = {path}
            elif path in children:
                return
            else:
                children.add(path)
            path = parent

    def reset_below(self, path: str) -> None:
        """reset_to_node: forget every count strictly below `path` (the path's own count stays)."""
        pending = self.below.pop(path, None)
        if not pending:
            return
        counts, below = self.counts, self.below
        stack = list(pending)
        while stack:
            p = stack.pop()
            counts.pop(p, None)
            sub = below.pop(p, None)
            if sub:
                stack.extend(sub)

    def force_loop_start(self, loop_path: str, seg_path: str) -> None:
        """walk_tree.forceWalkCounterToLoopStart, used for ISA and GS."""
        self.reset_below(loop_path)
        self.increment(loop_path)
        self.increment(seg_path)


_PARENTS: dict[str, str | None] = {}


def _parent(path: str) -> str | None:
    """'/A/B/C' -> '/A/B'; '/A' -> None (paths come from the maps, so the cache stays small)."""
    try:
        return _PARENTS[path]
    except KeyError:
        cut = path.rfind("/")
        parent = path[:cut] if cut > 0 else None
        _PARENTS[path] = parent
        return parent


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
        # Required segments/loops passed over: (segment whose pos decides, the loop when it is a loop
        # that is missing). Turned into WalkErrors only when flushed - most are dropped.
        self.missing: list[tuple[SegmentRule, LoopRule | None]] = []
        self.pending: list[WalkError] = []

    def walk(self, node: Node, tag: str, elements: list[str],
             sub: str) -> tuple[SegmentRule | None, list[WalkError]]:
        """The map node for this data segment (None: not found) and the errors met on the way."""
        self.missing = []
        self.pending = []
        start = node.pos
        loop = node if node.is_loop else node.loop
        while True:
            found, done = self._scan(loop, start, tag, elements, sub)
            if done:
                return found, self.pending
            if loop.is_root:
                # the data tag stays out of the message: in garbled data it may be anything
                self.pending.append(WalkError("segment_not_found", "segment is not expected here (searched "
                                              f"from {_where(node)})", node, _loop_id(node)))
                return None, self.pending
            start = loop.pos
            loop = loop.parent  # type: ignore[assignment]

    def _scan(self, loop: LoopRule, start: int, tag: str, elements: list[str],
              sub: str) -> tuple[SegmentRule | None, bool]:
        children = loop.children
        counts = self.counter.counts
        visit = loop.scan_by_tag.get(tag, loop.scan_default)  # type: ignore[union-attr]
        for k in range(bisect_left(visit, bisect_left(loop.child_pos, start)), len(visit)):
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
                self.missing.append((child, None))
        return None, False

    def _take_segment(self, seg: SegmentRule) -> SegmentRule:
        counter = self.counter
        counter.increment(seg.path)
        if seg.usage == "N":
            self.pending.append(WalkError("segment_not_used", f"segment {seg.tag} is marked as not used "
                                          f"in loop {seg.loop.id}", None, seg.loop.id))
        else:
            found = counter.counts[seg.path]
            if found > seg.max_use:
                self.pending.append(WalkError("segment_max_use_exceeded", f"segment {seg.tag} occurs {found} "
                                              f"times, at most {seg.max_use} allowed", seg, seg.loop.id))
        if self.missing:
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
        if first.tag == tag and (first.qualifier is None
                                 or qualifier_value(first, elements, sub) in first.qualifier[2]):
            return True
        if loop.usage == "R" and self.counter.counts.get(loop.path, 0) < 1:
            self.missing.append((first, loop))
        return False

    def _enter(self, loop: LoopRule, tag: str, elements: list[str], sub: str) -> SegmentRule | None:
        """walk_tree._goto_seg_match: enter `loop` at its first segment, else descend into child loops."""
        first = loop.first_seg
        if first is not None and is_match(first, tag, elements, sub):
            self._count_loop(loop)
            self.counter.increment(first.path)
            if self.missing:
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
        counter = self.counter
        counter.reset_below(loop.path)
        counter.increment(loop.path)
        found = counter.counts[loop.path]
        if found > loop.max_repeat:
            self.pending.append(WalkError("loop_repeat_exceeded", f"loop {loop.id} repeats {found} times, at "
                                          f"most {loop.max_repeat} allowed", loop, loop.id))

    def _flush_missing(self, keep_pos: int | None) -> None:
        kept = []
        for seg, loop in self.missing:
            if seg.pos == keep_pos:
                kept.append((seg, loop))
            elif loop is None:
                self.pending.append(WalkError("mandatory_segment_missing", f"required segment {seg.tag} "
                                              f"({seg.name}) is missing", seg, seg.loop.id))
            else:
                self.pending.append(WalkError("mandatory_loop_missing", f"required loop {loop.id} "
                                              f"({loop.name}) is missing", seg, loop.id))
        self.missing = kept


def _loop_id(node: Node) -> str:
    return node.id if node.is_loop else node.loop.id


def _where(node: Node) -> str:
    return f"loop {node.id}" if node.is_loop else f"{node.tag} in loop {node.loop.id}"
