"""Per-segment fast acceptance functions, generated from the compiled map.

Most segments of a real interchange are valid, and the exact check (elements.check_segment_exact)
spends most of its time walking generic per-element structures. For each segment rule we generate, once,
a small straight-line Python function that answers "certainly valid?" with one precomputed test per
element and bit-mask tests for the syntax rules. A True guarantees the exact check would report
nothing; a False only means "run the exact check". The generated source is kept on the rule
(`SegmentRule.fast_source`) for inspection, and a unit test holds the guarantee against the exact check.

The source is built only from the compiled map (tags, positions, flags), never from data.
"""

from __future__ import annotations

from typing import Callable

from rcm_x12.ig.elements import DTP_FORMATS, check_missing, is_valid_date, syntax_violated, type_list_ok
from rcm_x12.ig.rules import CompositeRule, ElementRule, SegmentRule

FastCheck = Callable[[list[str], str], bool]


def build_fast_check(seg: SegmentRule) -> tuple[FastCheck, str]:
    """The generated function for `seg` and its source."""
    gen = _Generator(seg)
    source = gen.source()
    namespace = dict(gen.namespace)
    exec(compile(source, f"<rcm_x12.ig fast check {seg.loop.path}/{seg.tag}>", "exec"), namespace)  # noqa: S102
    return namespace["clean"], source


def _dtp_date_ok(elements: list[str], value: str, sub: str) -> bool:
    """DTP03 against the format in DTP02 (pyx12 checks only RD8/D8/D6/DT/TM); only D8 is fast-pathed."""
    fmt = elements[1].rstrip(sub)
    if fmt not in DTP_FORMATS:
        return True
    return fmt == "D8" and is_valid_date("D8", value)


class _Generator:
    def __init__(self, seg: SegmentRule) -> None:
        self.seg = seg
        self.namespace: dict[str, object] = {"DTP_OK": _dtp_date_ok, "VIOLATED": syntax_violated,
                                             "SYNTAX": seg.syntax}
        self.lines: list[str] = []
        self.track_presence = bool(seg.syntax)

    def source(self) -> str:
        seg = self.seg
        width = len(seg.children)
        absent_required = [_required_when_absent(c) for c in seg.children]
        self.namespace["REQUIRED_FROM"] = tuple(any(absent_required[n:]) for n in range(width + 1))
        self.emit(0, "def clean(e, sub):")
        self.emit(1, "n = len(e)")
        self.emit(1, f"if n > {width} or REQUIRED_FROM[n]:")
        self.emit(2, "return False")
        if self.track_presence:
            self.emit(1, "present = 0")
        formats: list[str | None] = []  # codes of the 1250 elements so far (all present when i < n)
        for i, child in enumerate(seg.children):
            self.emit(1, f"if n > {i}:  # {child.ref}")
            self.emit(2, f"v = e[{i}]")
            if isinstance(child, CompositeRule):
                self.composite(i, child)
                continue
            if seg.is_dtp and i == 2:
                dated = "dtp"
            elif child.data_ele == "1251" and formats:
                dated = "list"
                self.namespace[f"T{i}"] = type_list_ok(formats)
            else:
                dated = None
            if child.data_ele == "1250":
                formats.extend(child.codes_list)
            self.simple(i, child, dated)
        self.syntax()
        self.emit(1, "return True")
        return "\n".join(self.lines) + "\n"

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def simple(self, i: int, rule: ElementRule, dated: str | None) -> None:
        self.emit(2, "if v:")
        if rule.fast_ok is None or (dated == "list" and self.namespace[f"T{i}"] is None):
            self.emit(3, "return False")  # not-used, regex or no format to go by: exact check
        else:
            self.namespace[f"F{i}"] = rule.fast_ok
            self.emit(3, f"if sub in v or not F{i}(v):")
            self.emit(4, "return False")
            if dated == "dtp":
                self.emit(3, "if not DTP_OK(e, v, sub):")
                self.emit(4, "return False")
            elif dated == "list":
                self.emit(3, f"if not T{i}(v):")
                self.emit(4, "return False")
            if self.track_presence:
                self.emit(3, f"present |= {1 << i}")
        if check_missing(rule):
            self.emit(2, "else:")
            self.emit(3, "return False")

    def composite(self, i: int, rule: CompositeRule) -> None:
        comps = rule.components
        self.emit(2, "if v.strip(sub):")
        if rule.usage == "N":
            self.emit(3, "return False")
        else:
            self.emit(3, "p = v.split(sub)")
            self.emit(3, "k = len(p)")
            self.emit(3, f"if k > {len(comps)}:")
            self.emit(4, "return False")
            required = [bool(check_missing(c)) for c in comps]
            for j, comp in enumerate(comps):
                self.emit(3, f"if k > {j}:  # {comp.ref}")
                self.emit(4, f"w = p[{j}]")
                self.emit(4, "if w:")
                if comp.fast_ok is None:
                    self.emit(5, "return False")
                else:
                    self.namespace[f"C{i}_{j}"] = comp.fast_ok
                    self.emit(5, f"if not C{i}_{j}(w):")
                    self.emit(6, "return False")
                if required[j]:
                    self.emit(4, "else:")
                    self.emit(5, "return False")
            self.namespace[f"CREQ{i}"] = tuple(any(required[k:]) for k in range(len(comps) + 1))
            self.emit(3, f"if CREQ{i}[k]:")
            self.emit(4, "return False")
            if self.track_presence:
                self.emit(3, f"present |= {1 << i}")
        if rule.usage not in ("N", "S"):
            self.emit(2, "else:")
            self.emit(3, "return False")

    def syntax(self) -> None:
        for rule, positions in self.seg.syntax:
            if len(positions) < 2 or len(set(positions)) != len(positions):
                self.emit(1, "if any(VIOLATED(r, ps, e, sub) for r, ps in SYNTAX):")
                self.emit(2, "return False")
                return
        for rule, positions in self.seg.syntax:
            mask = sum(1 << (p - 1) for p in positions)
            first = 1 << (positions[0] - 1)
            label = rule + "".join(f"{p:02d}" for p in positions)
            self.emit(1, f"b = present & {mask}  # {label}")
            test = {"P": f"b and b != {mask}", "R": "not b", "E": "b.bit_count() > 1",
                    "C": f"b & {first} and b != {mask}", "L": f"b & {first} and b == {first}"}[rule]
            self.emit(1, f"if {test}:")
            self.emit(2, "return False")


def _required_when_absent(child: ElementRule | CompositeRule) -> bool:
    if isinstance(child, CompositeRule):
        return child.usage not in ("N", "S")
    return bool(check_missing(child))
