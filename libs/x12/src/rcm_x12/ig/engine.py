"""The document driver: reads an interchange the way pyx12 4.0.0 does (rawx12file.py + x12file.py) and
drives the walker and the segment checks the way x12n_document() does, deciding which findings count.

Why a model of pyx12's error handler is needed: x12n_document() says "invalid" when a segment fails
validation or when its error tree holds at least one error. Some errors never reach that tree: a
segment-level error raised while the handler's cursor sits on an ISA/GS/ST (or just-closed SE/GE/IEA)
node is swallowed (err_isa/err_gs/err_st.add_error take two arguments, the handler passes three, and
the TypeError is caught), and one raised before any ST exists has no transaction set to attach to.
We keep such findings but as warnings, so the verdict stays pyx12's while nothing is hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rcm_x12.ig.elements import Problem, ReferenceCrash, check_segment
from rcm_x12.ig.maps import compiled_map, find_map_file, map_index
from rcm_x12.ig.rules import CompiledMap, SegmentRule
from rcm_x12.ig.walker import Walker, WalkError

ISA_LENGTH = 106  # rawx12file: the ISA is read as a fixed-width record
ENVELOPE_TAGS = frozenset({"ISA", "IEA", "GS", "GE", "ST", "SE"})
CONTROL_MAPS = {"00501": "x12.control.00501.xml", "00401": "x12.control.00401.xml"}
_SEG_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_SEG_ID = re.compile("^[A-Z][A-Z0-9]{1,2}$", re.S)  # segment.rec_seg_id ('$' also accepts a final newline)
_VALID_TAGS: set[str] = set()  # tags already found valid (the regex is the slow part of the check)
_TRACKED = frozenset({"ISA", "GS", "ST", "HL", "CLM", "LX", "IEA", "GE", "SE"})  # what x12file looks at

MAX_FINDINGS = 1000
ERROR = "error"
WARNING = "warning"


class UnsupportedTransaction(ValueError):
    """No verdict is possible: the interchange asks for an implementation guide we do not validate."""


@dataclass(frozen=True, slots=True)
class IgFinding:
    """One validation finding. `message` never quotes element values (they may be PHI)."""

    severity: str  # "error" (makes the report invalid) or "warning" (pyx12 would not count it)
    code: str
    message: str
    position: int  # 1-based segment position in the interchange (ISA = 1); 0 = end of data
    tag: str | None = None
    loop_id: str | None = None
    element: str | None = None  # reference designator, e.g. "CLM05-01"

    def __str__(self) -> str:
        where = f"#{self.position} {self.tag or ''}".rstrip()
        loop = f" loop {self.loop_id}" if self.loop_id else ""
        return f"{self.severity} {self.code} at {where}{loop}: {self.message}"


@dataclass(slots=True)
class IgReport:
    ok: bool
    findings: list[IgFinding] = field(default_factory=list)
    map_files: tuple[str, ...] = ()  # the implementation-guide maps used, in order of first use
    segment_count: int = 0
    omitted: int = 0  # findings beyond MAX_FINDINGS, counted but not kept (a garbled file can have millions)

    @property
    def errors(self) -> list[IgFinding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[IgFinding]:
        return [f for f in self.findings if f.severity == WARNING]


class _Stop(Exception):
    """pyx12 would raise here; the finding is already recorded, validation ends."""


@dataclass(slots=True)
class _ReaderError:
    level: str  # "isa" | "gs" | "st" | "seg", as x12file.X12Base files them
    code: str
    message: str
    position: int
    tag: str


class _Envelope:
    """x12file.X12Base/X12Reader bookkeeping: envelope stack, control numbers, counts, HL and LX."""

    __slots__ = ("loops", "isa_ids", "gs_ids", "st_ids", "gs_count", "st_count", "seg_count", "hl_stack",
                 "hl_count", "lx_count", "check_837_lx", "errors")

    def __init__(self) -> None:
        self.loops: list[tuple[str, str | None]] = []
        self.isa_ids: list[str | None] = []
        self.gs_ids: list[str | None] = []
        self.st_ids: list[str | None] = []
        self.gs_count = self.st_count = self.seg_count = self.hl_count = self.lx_count = 0
        self.hl_stack: list[int | None] = []
        self.check_837_lx = False
        self.errors: list[_ReaderError] = []

    def pop_errors(self) -> list[_ReaderError]:
        out, self.errors = self.errors, []
        return out

    def add(self, level: str, code: str, message: str, position: int, tag: str) -> None:
        self.errors.append(_ReaderError(level, code, message, position, tag))


def _pyint(value: str | None) -> int | None:
    """x12file._int: Python's int() (which also takes blanks, '+' and '_'), None when it fails."""
    try:
        return int(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None


class Engine:
    """One validation run. `expected_map` binds the run to one guide (IgValidator); None picks the map
    from each GS like pyx12 (validate_interchange), limited to `supported` map files."""

    def __init__(self, text: str, expected_map: str | None, supported: frozenset[str]) -> None:
        self.text = text
        self.expected_map = expected_map
        self.supported = supported
        self.findings: list[IgFinding] = []
        self.omitted = 0
        self.valid = True
        self.map_files: list[str] = []
        self.env = _Envelope()
        self.walker = Walker()
        # pyx12 error-handler cursor: on an envelope node (ISA/GS/ST) or on an ordinary segment node
        self.cursor_on_envelope = True
        self.has_gs = False
        self.has_st = False
        self.position = 0
        # where the walk stands: pyx12 starts in the control map and moves to a guide map at each GS
        self.control = compiled_map(CONTROL_MAPS["00501"])
        self.node: SegmentRule = self.control.node("/ISA_LOOP/ISA")  # type: ignore[assignment]
        self.node_icvn = self.control.icvn
        self.cur_map: CompiledMap | None = None
        self.map_file = CONTROL_MAPS["00501"]
        self.isa12: str | None = None

    # ------------------------------------------------------------ findings

    def _finding(self, counted: bool, code: str, message: str, position: int, tag: str | None,
                 loop_id: str | None = None, element: str | None = None) -> None:
        if counted:
            self.valid = False
        else:
            message += " (pyx12 drops this error at this point of the interchange, so it does not count)"
        if len(self.findings) >= MAX_FINDINGS:
            self.omitted += 1
            return
        tag = _safe_tag(tag) if tag else None  # a garbled "tag" may be data
        self.findings.append(IgFinding(ERROR if counted else WARNING, code, message, position, tag, loop_id,
                                       element))

    def _stop(self, code: str, message: str, tag: str | None, element: str | None = None) -> None:
        self._finding(True, code, message, self.position, tag, element=element)
        raise _Stop

    # ------------------------------------------------------------ entry point

    def run(self) -> IgReport:
        try:
            lines, delimiters = self._open()
        except _Stop:
            return self._report()
        try:
            self._validate(lines, delimiters)
        except _Stop:
            pass
        return self._report()

    def _report(self) -> IgReport:
        return IgReport(ok=self.valid, findings=self.findings, map_files=tuple(self.map_files),
                        segment_count=self.position, omitted=self.omitted)

    def _open(self) -> tuple[list[str], tuple[str, str, str]]:
        """rawx12file.RawX12File: a 106-character ISA fixes the delimiters; then split on the terminator.
        The piece after the last terminator is ignored, and the first empty segment ends the data."""
        head = self.text[:ISA_LENGTH]
        if head[:3] != "ISA" or len(head) != ISA_LENGTH:
            self._stop("not_x12", "data does not begin with a 106-character ISA segment", None)
        icvn = head[84:89]
        if icvn not in CONTROL_MAPS:
            self._stop("not_x12", "ISA12 interchange control version is not 00401 or 00501", "ISA", "ISA12")
        if icvn != "00501":
            self._unsupported("only 00501 (5010) interchanges are validated")
        seg_term, ele_term, sub_term = head[-1], head[3], head[-2]
        lines = self.text.split(seg_term)[:-1]
        return lines, (seg_term, ele_term, sub_term)

    def _unsupported(self, reason: str) -> None:
        if self.expected_map is None:
            raise UnsupportedTransaction(reason)
        self._stop("unsupported_transaction", reason, None)

    # ------------------------------------------------------------ main loop

    def _validate(self, lines: list[str], delimiters: tuple[str, str, str]) -> None:
        """x12n_document's loop: locate each segment's map node, route the errors, check the segment."""
        _, ele_term, sub_term = delimiters
        env = self.env
        for line in lines:
            line = line.lstrip("\n\r")
            if not line:
                break
            self.position += 1
            tag, elements = self._read_segment(line, ele_term, sub_term)
            found = self._locate(tag, elements, sub_term)
            if found is None:
                continue  # pyx12 keeps the previous node, and this segment's reader errors wait
            self.node = found
            if tag in ENVELOPE_TAGS:
                self._envelope_segment(tag, elements, sub_term)
            else:
                self.cursor_on_envelope = False
                if env.errors:
                    self._handle_reader_errors()
            self._check_segment(self.node, tag, elements, sub_term if tag != "ISA" else None,
                                self.node_icvn or "00401")
        self._cleanup()

    def _locate(self, tag: str, elements: list[str], sub: str) -> SegmentRule | None:
        """ISA and GS are pinned to the control map (and restart their counts); others are walked."""
        counter = self.walker.counter
        if tag == "ISA":
            counter.force_loop_start("/ISA_LOOP", "/ISA_LOOP/ISA")
            self.node_icvn = self.control.icvn
            return self.control.node("/ISA_LOOP/ISA")  # type: ignore[return-value]
        if tag == "GS":
            counter.force_loop_start("/ISA_LOOP/GS_LOOP", "/ISA_LOOP/GS_LOOP/GS")
            return self.control.node("/ISA_LOOP/GS_LOOP/GS")  # type: ignore[return-value]
        found, walk_errors = self.walker.walk(self.node, tag, elements, sub)
        if walk_errors:
            self._apply_walk_errors(walk_errors, tag)
        return found

    def _envelope_segment(self, tag: str, elements: list[str], sub: str) -> None:
        """x12n_document's per-envelope branches: the error-handler cursor moves to the envelope node
        before (ISA, GS, ST) or after (IEA, GE, SE) this segment's reader errors are handled."""
        if tag == "ISA":
            self.isa12 = elements[11]  # ISA elements are never split into components
            self.cursor_on_envelope = True
            self._handle_reader_errors()
        elif tag == "GS":
            self._open_group(elements, sub)
            self.cursor_on_envelope = True
            self.has_gs = True
            self._handle_reader_errors()
        elif tag == "ST":
            if not self.has_gs:
                self._stop("envelope", "ST segment before any GS (pyx12 aborts here)", "ST")
            self.cursor_on_envelope = True
            self.has_st = True
            self._handle_reader_errors()
        else:  # IEA, GE, SE
            self._handle_reader_errors()
            if tag == "GE" and _pyint(_value(elements, 1, sub)) is None:
                # err_gs.close() does int(GE01) unguarded
                self._stop("envelope", "GE01 is not a number (pyx12 aborts here)", "GE", "GE01")
            self.cursor_on_envelope = True

    def _open_group(self, elements: list[str], sub: str) -> None:
        """The GS picks the guide map (reloaded only when it changes) and re-roots the walk in it."""
        new_file = self._map_for_group(self.isa12, elements, sub)
        if new_file != self.map_file:
            self.map_file = new_file
            self.cur_map = compiled_map(new_file)
            self.map_files.append(new_file)
            self.env.check_837_lx = self.cur_map.transaction_id == "837"
        if self.cur_map is None:
            # the group names the control map itself; pyx12 dereferences its empty current map
            self._stop("map_not_found", "GS01/GS08 do not name a transaction set guide", "GS")
        self.node = self.cur_map.node("/ISA_LOOP/GS_LOOP/GS")  # type: ignore[union-attr,assignment]
        self.node_icvn = self.cur_map.icvn  # type: ignore[union-attr]

    def _read_segment(self, line: str, ele_term: str, sub_term: str) -> tuple[str, list[str]]:
        """X12Reader.__iter__ and X12Base/X12Reader._parse_segment for one segment."""
        env = self.env
        if line[0] == " ":
            env.add("seg", "leading_space", "segment starts with a space", self.position, "")
            line = line.lstrip()
            if not line:
                self._stop("empty_segment", "segment holds only blanks (pyx12 aborts here)", None)
        elements = line.split(ele_term)
        tag = elements.pop(0)
        if line[-1] == ele_term:
            env.add("seg", "trailing_separator", f"segment {_safe_tag(tag)} ends with an element separator",
                    self.position, tag)
        self._check_segment_shape(tag, elements, sub_term if tag != "ISA" else None)
        if tag in _TRACKED:
            self._track_envelope(tag, elements, sub_term)
        if tag not in ENVELOPE_TAGS:
            env.seg_count += 1
        return tag, elements

    def _check_segment_shape(self, tag: str, elements: list[str], sub: str | None) -> None:
        """Segment.is_empty() and is_seg_id_valid()."""
        for e in elements:
            if e and (sub is None or e.strip(sub)):
                break
        else:
            self.env.add("seg", "empty_segment", f"segment {_safe_tag(tag)} has no data", self.position, tag)
        if tag not in _VALID_TAGS:
            if not (2 <= len(tag) <= 3 and _SEG_ID.search(tag)):
                self.env.add("seg", "invalid_segment_id", "segment identifier is not 2-3 upper-case "
                             "letters/digits", self.position, _safe_tag(tag))
            elif len(_VALID_TAGS) < 50_000:  # bounded: at most 36**3 such tags exist anyway
                _VALID_TAGS.add(tag)

    def _track_envelope(self, tag: str, elements: list[str], sub: str) -> None:
        env, pos = self.env, self.position
        if tag == "ISA":
            if len(elements) != 16:
                self._stop("envelope", "ISA segment does not have 16 elements (pyx12 aborts here)", "ISA")
            isa13 = elements[12]  # ISA elements are never split into components
            if isa13 in env.isa_ids:
                env.add("isa", "isa_control_number_reused", "ISA13 control number is not unique in the file",
                        pos, tag)
            env.loops.append(("ISA", isa13))
            env.isa_ids.append(isa13)
            env.gs_count = 0
            env.gs_ids = []
        elif tag == "GS":
            gs06 = _value(elements, 6, sub)
            if gs06 in env.gs_ids:
                env.add("gs", "gs_control_number_reused", "GS06 control number is not unique in the "
                        "interchange", pos, tag)
            env.gs_count += 1
            env.gs_ids.append(gs06)
            env.loops.append(("GS", gs06))
            env.st_count = 0
            env.st_ids = []
        elif tag == "ST":
            env.hl_stack = []
            env.hl_count = 0
            st02 = _value(elements, 2, sub)
            if st02 in env.st_ids:
                env.add("st", "st_control_number_reused", "ST02 control number is not unique in the group",
                        pos, tag)
            env.st_count += 1
            env.st_ids.append(st02)
            env.loops.append(("ST", st02))
            env.seg_count = 1
        elif tag == "HL":
            self._track_hl(_value(elements, 1, sub), _value(elements, 2, sub))
        elif env.check_837_lx and tag == "CLM":
            env.lx_count = 0
        elif env.check_837_lx and tag == "LX":
            env.lx_count += 1
            if _value(elements, 1, sub) != str(env.lx_count):
                env.add("seg", "lx_sequence", f"LX01 does not continue the claim's service line count "
                        f"(expected {env.lx_count})", pos, tag)
        elif tag == "IEA":
            self._close_interchange(_value(elements, 1, sub), _value(elements, 2, sub))
        elif tag == "GE":
            self._close_group(_value(elements, 1, sub), _value(elements, 2, sub))
        elif tag == "SE":
            self._close_transaction(_value(elements, 1, sub), _value(elements, 2, sub))

    def _track_hl(self, hl01: str | None, hl02: str | None) -> None:
        env, pos = self.env, self.position
        env.hl_count += 1
        if env.hl_count != _pyint(hl01):
            env.add("seg", "hl_sequence", f"HL01 does not match the HL count (expected {env.hl_count})", pos, "HL")
        if hl02 != "":
            parent = _pyint(hl02)
            if parent not in env.hl_stack:
                env.add("seg", "hl_parent", "HL02 does not name an open parent HL", pos, "HL")
            while env.hl_stack and parent != env.hl_stack[-1]:
                env.hl_stack.pop()
        env.hl_stack.append(env.hl_count)

    def _last_loop(self, tag: str) -> tuple[str, str | None]:
        if not self.env.loops:
            self._stop("envelope", f"{tag} without any open envelope (pyx12 aborts here)", tag)
        return self.env.loops[-1]

    def _close_interchange(self, iea01: str | None, iea02: str | None) -> None:
        env, pos = self.env, self.position
        if self._last_loop("IEA")[0] != "ISA":
            env.add("isa", "unterminated_loop", "IEA closes the interchange while a group is still open", pos,
                    "IEA")
            del env.loops[-1]
        if self._last_loop("IEA")[1] != iea02:
            env.add("isa", "iea_control_number", "IEA02 does not match ISA13", pos, "IEA")
        if _pyint(iea01) != env.gs_count:
            env.add("isa", "iea_group_count", f"IEA01 group count is wrong (counted {env.gs_count})", pos, "IEA")
        del env.loops[-1]

    def _close_group(self, ge01: str | None, ge02: str | None) -> None:
        env, pos = self.env, self.position
        if self._last_loop("GE")[0] != "GS":
            env.add("gs", "unterminated_loop", "GE closes the group while a transaction set is still open", pos,
                    "GE")
            del env.loops[-1]
        if self._last_loop("GE")[1] != ge02:
            env.add("gs", "ge_control_number", "GE02 does not match GS06", pos, "GE")
        if _pyint(ge01) != env.st_count:
            env.add("gs", "ge_transaction_count", f"GE01 transaction set count is wrong (counted {env.st_count})",
                    pos, "GE")
        del env.loops[-1]

    def _close_transaction(self, se01: str | None, se02: str | None) -> None:
        env, pos = self.env, self.position
        last = self._last_loop("SE")
        if last[0] != "ST" or last[1] != se02:
            env.add("st", "se_control_number", "SE02 does not match ST02", pos, "SE")
        if _pyint(se01) != env.seg_count + 1:
            env.add("st", "se_segment_count", f"SE01 segment count is wrong (counted {env.seg_count + 1})",
                    pos, "SE")
        del env.loops[-1]

    def _map_for_group(self, isa12: str | None, elements: list[str], sub: str) -> str:
        """x12n_document's GS branch: maps.xml picks the guide from ISA12, GS08 and GS01."""
        fic = elements[0].rstrip(sub) if elements else None
        vriic = elements[7].rstrip(sub) if len(elements) > 7 else None
        new_file = find_map_file(isa12, vriic, fic)
        if self.expected_map is not None:
            if new_file != self.expected_map:
                self._stop("transaction_mismatch", "GS01/GS08 do not select the implementation guide this "
                           f"validator checks ({self.expected_map})", "GS", "GS08")
            return new_file
        if new_file is None:
            if not any(e.icvn == isa12 and e.vriic == vriic for e in map_index()):
                self._unsupported("GS08 names an implementation guide pyx12 has no map for")
            self._stop("map_not_found", "GS01 functional identifier does not suit the guide named in GS08 "
                       "(pyx12 aborts here)", "GS", "GS01")
        if new_file not in self.supported and new_file not in CONTROL_MAPS.values():
            self._unsupported(f"the guide map {new_file} is not among the validated ones")
        return new_file  # type: ignore[return-value]

    # ------------------------------------------------------------ error routing

    def _apply_walk_errors(self, errors: list[WalkError], tag: str) -> None:
        """walker.apply_walk_errors: an error with a map node opens a new segment cursor (counted once a
        transaction set exists); one without ("not used") lands on the previous cursor."""
        for e in errors:
            if e.node is not None:
                self.cursor_on_envelope = False
                counted = self.has_st
            else:
                counted = self.has_st and not self.cursor_on_envelope
            self._finding(counted, e.code, e.message, self.position, tag, e.loop_id)

    def _handle_reader_errors(self) -> None:
        """err_handler.handle_errors for what x12file collected since the last call."""
        for e in self.env.pop_errors():
            self._reader_finding(e)

    def _reader_finding(self, e: _ReaderError) -> None:
        if e.level == "gs" and not self.has_gs:
            self._finding(True, e.code, e.message + " (pyx12 aborts here)", e.position, e.tag)
            raise _Stop
        if e.level == "st" and not self.has_st:
            self._finding(True, e.code, e.message + " (pyx12 aborts here)", e.position, e.tag)
            raise _Stop
        counted = e.level != "seg" or (self.has_st and not self.cursor_on_envelope)
        self._finding(counted, e.code, e.message, e.position, e.tag or None)

    def _check_segment(self, node: SegmentRule, tag: str, elements: list[str], sub: str | None,
                       icvn: str) -> None:
        """apply_segment_errors: every problem makes the segment (so the interchange) invalid."""
        try:
            problems = check_segment(node, elements, sub, icvn)
        except ReferenceCrash as crash:
            self._stop("segment_structure", f"{tag}: {crash}", tag)
        if problems:
            self._segment_problems(node, tag, problems)

    def _segment_problems(self, node: SegmentRule, tag: str, problems: list[Problem]) -> None:
        # apply_segment_errors: element errors on an ordinary segment before any ST have no parent in
        # pyx12's error tree and make it raise; the verdict is "invalid" either way.
        for p in problems:
            self._finding(True, p.code, p.message, self.position, tag, node.loop_id, p.element)

    def _cleanup(self) -> None:
        """X12Reader.cleanup: trailers never seen, reported against the end of the data."""
        env = self.env
        for kind, _ in env.loops:
            if kind == "ST":
                env.add("st", "missing_se", "transaction set has no SE trailer", 0, "SE")
            elif kind == "GS":
                env.add("gs", "missing_ge", "functional group has no GE trailer", 0, "GE")
            elif kind == "ISA":
                env.add("isa", "missing_iea", "interchange has no IEA trailer", 0, "IEA")
        self._handle_reader_errors()


def _value(elements: list[str], i: int, sub: str) -> str | None:
    """pyx12 Segment.get_value("NN"): components re-joined without trailing empty ones; None if absent."""
    return elements[i - 1].rstrip(sub) if i <= len(elements) else None


def _safe_tag(tag: str) -> str:
    """A segment tag is echoed only when it looks like one (a garbled 'tag' could be data)."""
    return tag if 2 <= len(tag) <= 3 and all(c in _SEG_ID_CHARS for c in tag) else "<invalid>"
