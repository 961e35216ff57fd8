"""Compile pyx12's implementation-guide maps (the XML shipped inside the pyx12 package) into plain rules.

pyx12 re-reads and re-objectifies its XML maps on every validation call; we read the same files once per
process and flatten them into small slotted objects (rules.py) that the walker (walker.py) and the element
checks (elements.py) can use without any further lookups.

Everything here mirrors how pyx12 4.0.0 builds its map tree (pyx12/map_if/*.py), including the details
that decide how segments are matched and counted:
- attributes may be XML attributes or child elements (`elem.get(x) or elem.findtext(x)`);
- children of a loop are ordered by `pos`, and at an equal `pos` every child loop precedes every
  segment (pyx12 fills its pos_map with loops first, then segments);
- a segment's counter key is its path; segments sharing a `pos` inside one loop get a `[code]` suffix
  (the first valid code of their qualifier element), others share the plain path and so share a count;
- data type and min/max length come from dataele.xml, never from the map;
- external code lists come from codes.xml (every <code> under any <version> of the codeset).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # the maps are package data of an installed dependency, not input
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from rcm_x12.ig.elements import fast_check
from rcm_x12.ig.fastpath import build_fast_check
from rcm_x12.ig.rules import (
    MAXINT,
    Child,
    CompiledMap,
    CompositeRule,
    ElementRule,
    LoopRule,
    MapEntry,
    SegmentRule,
)

class MapError(Exception):
    """A pyx12 map cannot be compiled (missing file, unknown data element, malformed structure)."""


# ---------------------------------------------------------------- resources


def _map_dir():
    try:
        return files("pyx12").joinpath("map")
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise MapError("pyx12 is not installed; its maps are the source of the implementation guides") from exc


def _parse(name: str) -> ET.Element:
    resource = _map_dir().joinpath(name)
    if not resource.is_file():
        raise MapError(f"pyx12 map file {name} not found")
    with resource.open("rb") as fd:
        return ET.parse(fd).getroot()


def _attr(elem: ET.Element, name: str) -> str | None:
    # pyx12: `elem.get(name) if elem.get(name) else elem.findtext(name)`
    return elem.get(name) or elem.findtext(name)


@dataclass(frozen=True, slots=True)
class DataElement:
    data_type: str
    min_len: int
    max_len: int
    name: str


@lru_cache(maxsize=1)
def data_elements() -> dict[str, DataElement]:
    out = {}
    for e in _parse("dataele.xml").iter("data_ele"):
        out[e.get("ele_num")] = DataElement(e.get("data_type"), int(e.get("min_len")), int(e.get("max_len")),
                                            e.get("name") or "")
    return out


@lru_cache(maxsize=1)
def external_code_lists() -> dict[str, frozenset[str | None]]:
    return {cs.findtext("id"): frozenset(c.text for c in cs.iterfind("version/code"))
            for cs in _parse("codes.xml").iter("codeset")}


@lru_cache(maxsize=1)
def map_index() -> tuple[MapEntry, ...]:
    out = []
    for version in _parse("maps.xml").iter("version"):
        for m in version.iterfind("map"):
            out.append(MapEntry(version.get("icvn"), m.get("vriic"), m.get("fic"), m.get("tspc"), m.text,
                                m.get("abbr")))
    return tuple(out)


def find_map_file(icvn: str | None, vriic: str | None, fic: str | None) -> str | None:
    """pyx12 map_index.get_filename: the first maps.xml entry matching all three, else None."""
    for entry in map_index():
        if entry.icvn == icvn and entry.vriic == vriic and entry.fic == fic:
            return entry.file
    return None


# ---------------------------------------------------------------- compiling


@lru_cache(maxsize=None)
def compiled_map(file: str) -> CompiledMap:
    """The map compiled once per process (the rules are immutable in use, so sharing is safe)."""
    return _MapCompiler(file).compile()


class _MapCompiler:
    def __init__(self, file: str) -> None:
        self.file = file
        self.dataele = data_elements()
        self.codes = external_code_lists()
        self.by_path: dict[str, LoopRule | SegmentRule] = {}

    def compile(self) -> CompiledMap:
        xml_root = _parse(self.file)
        tid = xml_root.get("xid") or ""
        root = LoopRule(id=tid, name=_attr(xml_root, "name") or "", usage="R", pos=0, max_repeat=1, path="/",
                        eq_key=(tid, ""), parent=None, is_root=True)
        self._fill_loop(root, xml_root)
        isa = self.by_path.get("/ISA_LOOP/ISA")
        icvn = None
        if isinstance(isa, SegmentRule) and len(isa.children) > 11:
            isa12 = isa.children[11]
            icvn = isa12.codes_list[0] if isinstance(isa12, ElementRule) and isa12.codes_list else None
        return CompiledMap(self.file, tid, root, icvn, self.by_path)

    def _fill_loop(self, loop: LoopRule, xml: ET.Element) -> None:
        # pyx12 builds pos_map from all <loop> children, then all <segment> children: at an equal pos the
        # loops come first. sorted() is stable, so (pos, kind) keeps XML order within a kind.
        entries: list[tuple[int, int, LoopRule | SegmentRule]] = []
        for e in xml.findall("loop"):
            child = self._loop(loop, e)
            entries.append((child.pos, 0, child))
        for e in xml.findall("segment"):
            child = self._segment(loop, e)
            entries.append((child.pos, 1, child))
        entries.sort(key=lambda t: (t[0], t[1]))
        children = tuple(c for _, _, c in entries)
        if not loop.is_root:
            self._disambiguate_paths(children)
        loop.children = children
        loop.child_pos = tuple(c.pos for c in children)
        loop.first = children[0] if children else None
        loop.first_seg = loop.first if isinstance(loop.first, SegmentRule) else None
        loop.child_loops = tuple(c for c in children if isinstance(c, LoopRule))
        _build_scan_index(loop)
        for child in children:
            if isinstance(child, LoopRule):
                self.by_path.setdefault(child.path, child)
        for child in children:
            if isinstance(child, SegmentRule):
                self.by_path.setdefault(child.path, child)

    def _loop(self, parent: LoopRule, e: ET.Element) -> LoopRule:
        lid = e.get("xid") or ""
        loop = LoopRule(id=lid, name=_attr(e, "name") or "", usage=_attr(e, "usage") or "",
                        pos=_required_int(e, "pos"), max_repeat=_max_repeat(_attr(e, "repeat")),
                        path=_child_path(parent.path, lid), eq_key=(lid, parent.id), parent=parent,
                        is_root=False)
        self._fill_loop(loop, e)
        return loop

    def _segment(self, loop: LoopRule, e: ET.Element) -> SegmentRule:
        tag = e.get("xid") or ""
        children = self._segment_children(tag, e)
        syntax = tuple(s for s in (_split_syntax(x.text) for x in e.findall("syntax")) if s is not None)
        seg = SegmentRule(
            tag=tag, name=_attr(e, "name") or "", usage=_attr(e, "usage") or "", pos=_required_int(e, "pos"),
            max_use=_max_use(_attr(e, "max_use")), path=_child_path(loop.path, tag), eq_key=(tag, loop.id),
            loop=loop, qualifier=_qualifier(tag, children), children=children, syntax=syntax,
            is_dtp=tag == "DTP",
            has_date_format_rule=any(isinstance(c, ElementRule) and c.data_ele == "1250" for c in children))
        seg.fast_check, seg.fast_source = build_fast_check(seg)
        return seg

    def _segment_children(self, tag: str, e: ET.Element) -> tuple[Child, ...]:
        by_seq: dict[int, ET.Element] = {}
        for x in e.findall("element"):
            by_seq[_required_int(x, "seq")] = x
        for x in e.findall("composite"):
            by_seq[_required_int(x, "seq")] = x
        if sorted(by_seq) != list(range(1, len(by_seq) + 1)):
            # pyx12 looks children up by seq == index + 1 and raises on a gap; none of its maps has one
            raise MapError(f"{self.file}: segment {tag} has non-contiguous element sequence numbers")
        out: list[Child] = []
        for seq in sorted(by_seq):
            x = by_seq[seq]
            if x.tag == "element":
                out.append(self._element(x, f"{tag}{seq:02d}", None))
            else:
                out.append(self._composite(tag, seq, x))
        return tuple(out)

    def _composite(self, tag: str, seq: int, e: ET.Element) -> CompositeRule:
        usage = _attr(e, "usage") or ""
        ref = f"{tag}{seq:02d}"
        components = tuple(self._element(x, f"{ref}-{_required_int(x, 'seq'):02d}", usage)
                           for x in e.findall("element"))
        return CompositeRule(ref=ref, name=_attr(e, "name") or "", usage=usage, seq=seq, components=components)

    def _element(self, e: ET.Element, ref: str, composite_usage: str | None) -> ElementRule:
        data_ele = _attr(e, "data_ele") or ""
        de = self.dataele.get(data_ele)
        if de is None:
            raise MapError(f"{self.file}: data element {data_ele!r} of {ref} is not in dataele.xml")
        codes_list: tuple[str | None, ...] = ()
        external_id = None
        v = e.find("valid_codes")
        if v is not None:
            external_id = v.get("external")
            codes_list = tuple(c.text for c in v.findall("code"))
        external = None
        if external_id is not None:
            if external_id not in self.codes:
                # pyx12 raises EngineError while validating such an element; refuse the map instead
                raise MapError(f"{self.file}: external code list {external_id!r} is not in codes.xml")
            external = self.codes[external_id]
        res = e.findtext("regex")
        rule = ElementRule(
            ref=ref, name=_attr(e, "name") or "", usage=_attr(e, "usage") or "", seq=_required_int(e, "seq"),
            data_ele=data_ele, data_type=de.data_type, min_len=de.min_len, max_len=de.max_len,
            codes=frozenset(codes_list), codes_list=codes_list, external=external, external_id=external_id,
            regex=re.compile(res, re.S) if res else None, in_composite=composite_usage is not None,
            composite_usage=composite_usage, numeric=de.data_type == "R" or de.data_type.startswith("N"),
            fast_ok=None)
        rule.fast_ok = fast_check(rule)
        return rule

    def _disambiguate_paths(self, children: tuple[LoopRule | SegmentRule, ...]) -> None:
        """pyx12 loop_if: segments sharing a pos get '[first code of their key element]' in their path."""
        by_pos: dict[int, list[LoopRule | SegmentRule]] = {}
        for c in children:
            by_pos.setdefault(c.pos, []).append(c)
        for group in by_pos.values():
            if len(group) < 2:
                continue
            for seg in group:
                if isinstance(seg, SegmentRule):
                    key = _guess_unique_key_element(seg)
                    if key is not None:
                        seg.path = f"{seg.path}[{key.codes_list[0] or ''}]"


# ---------------------------------------------------------------- walker scan index


def _first_tags(loop: LoopRule) -> frozenset[str]:
    """Tags that can make walk_tree._is_loop_match(loop) true."""
    if loop.first is None:
        return frozenset()
    if isinstance(loop.first, LoopRule):
        return frozenset().union(*(_first_tags(c) for c in loop.child_loops))
    return frozenset({loop.first.tag})


def _has_side_effect(child: LoopRule | SegmentRule) -> bool:
    """Passing over this child without a match may record a 'mandatory ... missing' error."""
    if isinstance(child, SegmentRule):
        return child.usage == "R"
    if child.first is None:
        return False
    if isinstance(child.first, LoopRule):
        return True  # a wrapper asks each child loop, which may record; keep it simple and visit it
    return child.usage == "R"


def _build_scan_index(loop: LoopRule) -> None:
    always = {i for i, c in enumerate(loop.children) if _has_side_effect(c)}
    by_tag: dict[str, set[int]] = {}
    for i, c in enumerate(loop.children):
        tags = _first_tags(c) if isinstance(c, LoopRule) else frozenset({c.tag})
        for tag in tags:
            by_tag.setdefault(tag, set()).add(i)
    loop.scan_default = tuple(sorted(always))
    loop.scan_by_tag = {tag: tuple(sorted(idx | always)) for tag, idx in by_tag.items()}


# ---------------------------------------------------------------- pyx12 helpers, mirrored


def _child_path(parent_path: str, node_id: str) -> str:
    # pyx12 x12_node.get_path: "/" + path under the root, else parent path + "/" + path
    return "/" + node_id if parent_path == "/" else f"{parent_path}/{node_id}"


def _required_int(e: ET.Element, name: str) -> int:
    v = _attr(e, name)
    if v is None:
        raise MapError(f"required {name!r} missing on <{e.tag}>")
    return int(v)


def _max_repeat(repeat: str | None) -> int:
    # loop_if.get_max_repeat
    if repeat is None or repeat in ("&gt;1", ">1"):
        return MAXINT
    return int(repeat)


def _max_use(max_use: str | None) -> int:
    # segment_if.get_max_repeat
    if max_use is None or max_use == ">1":
        return MAXINT
    return int(max_use)


def _split_syntax(text: str | None) -> tuple[str, tuple[int, ...]] | None:
    # segment_if._split_syntax: a rule letter then two-digit element positions
    if text is None or text[0] not in "PRCLE":
        return None
    body = text[1:]
    return text[0], tuple(int(body[i * 2 : i * 2 + 2]) for i in range(len(body) // 2))


def _qualifier(tag: str, children: tuple[Child, ...]) -> tuple[int, int | None, frozenset[str | None]] | None:
    """segment_if._resolve_unique_key_field(with_qual=False): which value identifies this segment node."""
    c0 = children[0] if children else None
    c1 = children[1] if len(children) > 1 else None
    c2 = children[2] if len(children) > 2 else None
    if isinstance(c0, ElementRule) and c0.data_type == "ID" and c0.usage == "R" and c0.codes_list:
        return 0, None, c0.codes
    if tag == "ENT" and isinstance(c1, ElementRule) and c1.data_type == "ID" and c1.codes_list:
        return 1, None, c1.codes
    if (tag == "CTX" and isinstance(c0, CompositeRule) and c0.components[0].data_type == "AN"
            and c0.components[0].codes_list):
        return 0, 0, c0.components[0].codes
    if isinstance(c0, CompositeRule) and c0.components[0].data_type == "ID" and c0.components[0].codes_list:
        return 0, 0, c0.components[0].codes
    if tag == "HL" and isinstance(c2, ElementRule) and c2.codes_list:
        return 2, None, c2.codes
    return None


def _guess_unique_key_element(seg: SegmentRule) -> ElementRule | None:
    """segment_if.guess_unique_key_id_element (note: unlike the matcher, it ignores the usage)."""
    ch = seg.children
    c0 = ch[0] if ch else None
    c1 = ch[1] if len(ch) > 1 else None
    c2 = ch[2] if len(ch) > 2 else None
    if isinstance(c0, ElementRule) and c0.data_type == "ID" and c0.codes_list:
        return c0
    if seg.tag == "ENT" and isinstance(c1, ElementRule) and c1.data_type == "ID" and c1.codes_list:
        return c1
    if isinstance(c0, CompositeRule) and c0.components[0].data_type == "ID" and c0.components[0].codes_list:
        return c0.components[0]
    if seg.tag == "HL" and isinstance(c2, ElementRule) and c2.codes_list:
        return c2
    return None
