"""The compiled rule types of the implementation-guide validator (data only: no checks, no compiler).

maps.py builds them from pyx12's XML maps and attaches each rule's generated fast check (elements.fast_check,
fastpath.build_fast_check); walker.py, elements.py and fastpath.py read them. Keeping them here, apart
from the compiler, is what lets the checks import the rule types without an import cycle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

MAXINT = 2147483647  # pyx12's "unbounded" repeat / max_use


# ---------------------------------------------------------------- compiled rules


@dataclass(slots=True, eq=False)
class ElementRule:
    """One simple element, or one component of a composite."""

    ref: str  # reference designator for findings, e.g. "CLM01" or "CLM05-01"
    name: str
    usage: str
    seq: int
    data_ele: str
    data_type: str
    min_len: int
    max_len: int
    codes: frozenset[str | None]  # the map's valid_codes (empty: no list)
    codes_list: tuple[str | None, ...]  # same, in map order (the 1250/1251 date-format rule uses it)
    external: frozenset[str | None] | None  # codes.xml list named by valid_codes/@external
    external_id: str | None
    regex: re.Pattern[str] | None
    in_composite: bool
    composite_usage: str | None  # usage of the enclosing composite (pyx12's empty-R rule looks at it)
    numeric: bool  # R or N*: pyx12 ignores '-' and '.' when measuring the length
    fast_ok: object  # precomputed quick acceptance test, see elements.fast_check


@dataclass(slots=True, eq=False)
class CompositeRule:
    ref: str
    name: str
    usage: str
    seq: int
    components: tuple[ElementRule, ...]


Child = Union[ElementRule, CompositeRule]


@dataclass(slots=True, eq=False)
class SegmentRule:
    tag: str
    name: str
    usage: str
    pos: int
    max_use: int
    path: str  # pyx12's x12path string: the key of its node counter
    eq_key: tuple[str, str]  # pyx12's node equality: (id, parent id)
    loop: "LoopRule"
    # How the segment is told apart from siblings with the same tag: (element index 0-based, component
    # index or None, codes) or None when the tag alone decides. See _qualifier().
    qualifier: tuple[int, int | None, frozenset[str | None]] | None
    children: tuple[Child, ...]
    syntax: tuple[tuple[str, tuple[int, ...]], ...]
    is_dtp: bool
    has_date_format_rule: bool  # has a data element 1250 (date format qualifier), see elements
    fast_check: object = None  # generated "certainly valid?" test, see fastpath
    fast_source: str = ""

    is_loop = False

    @property
    def loop_id(self) -> str:
        return self.loop.id


@dataclass(slots=True, eq=False)
class LoopRule:
    id: str
    name: str
    usage: str
    pos: int
    max_repeat: int
    path: str
    eq_key: tuple[str, str]
    parent: "LoopRule | None"
    is_root: bool
    children: tuple[Union["LoopRule", SegmentRule], ...] = ()
    child_pos: tuple[int, ...] = ()  # children's pos, for bisecting to "pos >= start"
    first: "LoopRule | SegmentRule | None" = None
    first_seg: SegmentRule | None = None  # first child when it is a segment (pyx12 get_first_seg)
    child_loops: tuple["LoopRule", ...] = ()
    # Scan shortcut: for a data segment tag, the indices of the children the walker must visit - those
    # that could match that tag plus those with side effects (required ones, recorded when passed over).
    # Skipping the others changes nothing, and saves visiting dozens of optional REF/DTP/... siblings.
    scan_by_tag: dict[str, tuple[int, ...]] | None = None
    scan_default: tuple[int, ...] = ()

    is_loop = True


@dataclass(slots=True, eq=False)
class CompiledMap:
    file: str
    transaction_id: str  # the map root's xid ("837", "835", ...)
    root: LoopRule
    icvn: str | None  # ISA12 valid code of the map (pyx12 uses it to pick the 5010 character set)
    by_path: dict[str, LoopRule | SegmentRule]

    def node(self, path: str) -> LoopRule | SegmentRule:
        return self.by_path[path]


@dataclass(frozen=True, slots=True)
class MapEntry:
    icvn: str
    vriic: str
    fic: str
    tspc: str | None
    file: str
    abbr: str
