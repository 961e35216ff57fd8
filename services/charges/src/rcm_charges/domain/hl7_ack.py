"""HL7 v2 acknowledgments (original mode ACK), pure: read the header of what came in, answer in its version and
with its delimiters.

    MSH  sending and receiving application/facility swapped, MSH-9 ACK^<trigger>[^ACK from v2.3.1], MSH-10 our own
         control id, MSH-11 the message's processing id, MSH-12 the message's version
    MSA  MSA-1 AA (accepted, also when the encounter is held for review) | AE (application error: the message was
         read but what it says cannot be taken) | AR (rejected: not a message we take, unreadable, not allowed);
         MSA-2 the message's MSH-10; MSA-3 a short text (v2.3/2.4, where ERR has no text of its own)
    ERR  one per problem. v2.5 and later: ERR-2 location (SEG^sequence^field^repetition^component), ERR-3 the
         HL7 error code (table 0357), ERR-4 severity E, ERR-8 the reason. v2.3/2.4: ERR-1 (ELD: SEG^sequence^field^
         code&text&HL70357), one repetition per problem.

Reasons are our fixed texts (rcm_charges.domain.hl7_dft), never values of the message: an ACK carries no PHI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

AckCode = Literal["AA", "AE", "AR"]

DEFAULT_VERSION = "2.5.1"
MAX_TEXT = 80  # MSA-3 is 80 characters in v2.3/2.4
MAX_ERRORS = 20

# HL7 table 0357 (message error condition codes)
REQUIRED_FIELD_MISSING = ("101", "Required field missing")
DATA_TYPE_ERROR = ("102", "Data type error")
UNSUPPORTED_MESSAGE_TYPE = ("200", "Unsupported message type")
UNSUPPORTED_EVENT_CODE = ("201", "Unsupported event code")
DUPLICATE_KEY = ("205", "Duplicate key identifier")
APPLICATION_ERROR = ("207", "Application internal error")

_PATH = re.compile(r"^(?P<seg>[A-Z][A-Z0-9]{2})(?:\[(?P<occ>\d+)\])?(?:[-.](?P<field>\d+))?(?:\.(?P<comp>\d+))?$")


@dataclass(frozen=True)
class Header:
    """What an ACK needs from the message it answers (MSH), read tolerantly: a field missing reads as empty."""

    field_sep: str = "|"
    encoding: str = "^~\\&"
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    message_type: str = ""  # MSH-9.1
    trigger: str = ""  # MSH-9.2
    control_id: str = ""  # MSH-10
    processing_id: str = "P"  # MSH-11.1
    version: str = DEFAULT_VERSION  # MSH-12.1

    @property
    def component(self) -> str:
        return self.encoding[0]

    @property
    def sender_key(self) -> tuple[str, str]:
        """Who sent it, as the control id's namespace: MSH-3 and MSH-4 (first component each)."""
        return (_first(self.sending_application, self.component), _first(self.sending_facility, self.component))


@dataclass(frozen=True)
class AckError:
    field: str  # our field path: "FT1[1].20", "PID-7", "MSH-9", "message"
    reason: str
    code: tuple[str, str] = APPLICATION_ERROR


@dataclass(frozen=True)
class Ack:
    code: AckCode
    text: str = ""  # MSA-3 / the first ERR's reason when empty
    errors: list[AckError] = field(default_factory=list)


def _first(value: str, component: str) -> str:
    return value.split(component, 1)[0].strip()


def read_header(message: str) -> Header | None:
    """The MSH of the first segment, or None when the text does not start with one (after leading whitespace)."""
    text = message.lstrip("\ufeff\x0b \t\r\n")
    line = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    if not line.startswith("MSH") or len(line) < 8:
        return None
    sep = line[3]
    if sep.isalnum() or sep.isspace():
        return None
    fields = ["MSH", sep, *line[4:].split(sep)]  # fields[n] is MSH-n
    encoding = fields[2]
    if len(encoding) < 2 or len(set(encoding)) != len(encoding) or sep in encoding or any(
            ch.isalnum() or ch.isspace() for ch in encoding):
        return None
    get = lambda n: fields[n] if n < len(fields) else ""  # noqa: E731
    comp = encoding[0]
    msg_type = get(9).split(comp)
    return Header(
        field_sep=sep, encoding=encoding[:4],
        sending_application=get(3), sending_facility=get(4),
        receiving_application=get(5), receiving_facility=get(6),
        message_type=msg_type[0].strip().upper(), trigger=(msg_type[1] if len(msg_type) > 1 else "").strip().upper(),
        control_id=_first(get(10), comp), processing_id=_first(get(11), comp) or "P",
        version=_first(get(12), comp) or DEFAULT_VERSION,
    )


def version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for p in version.split("."):
        if not p.isdigit():
            break
        parts.append(int(p))
    return tuple(parts) or (2, 5, 1)


def error_code_for(reason: str) -> tuple[str, str]:
    return REQUIRED_FIELD_MISSING if "required" in reason else APPLICATION_ERROR


def location(path: str) -> tuple[str, str, str, str] | None:
    """Our field path -> (segment, sequence, field, component) as HL7 locates it; None when it names no segment
    field ("message", "source_system")."""
    match = _PATH.match(path.strip())
    if not match:
        return None
    seg, occ, fld, comp = match.group("seg", "occ", "field", "comp")
    return seg, occ or "1", fld or "", comp or ""


def build(header: Header, ack: Ack, *, control_id: str, now: datetime) -> str:
    """The ACK's text (segments ended by CR), in the header's version and delimiters."""
    sep, enc = header.field_sep, header.encoding
    comp = enc[0]
    rep = enc[1]
    sub = enc[3] if len(enc) > 3 else "&"
    v = version_tuple(header.version)
    esc = lambda text: escape(text, sep, enc)  # noqa: E731
    message_type = f"ACK{comp}{header.trigger}" if header.trigger else "ACK"
    if v >= (2, 3, 1) and header.trigger:
        message_type += f"{comp}ACK"
    msh = sep.join(["MSH", enc, header.receiving_application, header.receiving_facility,
                    header.sending_application, header.sending_facility, now.strftime("%Y%m%d%H%M%S"), "",
                    message_type, control_id, header.processing_id or "P", header.version])
    errors = ack.errors[:MAX_ERRORS]
    text = ack.text or (errors[0].reason if errors else "")
    msa = ["MSA", ack.code, esc(header.control_id)]
    if text and v < (2, 5):
        msa.append(esc(text[:MAX_TEXT]))
    segments = [msh, sep.join(msa)]
    if errors and v >= (2, 5):
        for e in errors:
            loc = location(e.field)
            # ERL: segment^sequence^field^repetition^component (the repetition only to reach a component)
            erl = comp.join((loc[0], loc[1], loc[2], "1" if loc[3] else "", loc[3])).rstrip(comp) if loc else ""
            code = comp.join([e.code[0], esc_component(e.code[1], sep, enc), "HL70357"])
            reason = esc(e.reason)
            segments.append(sep.join(["ERR", "", erl, code, "E", "", "", "", reason]))
    elif errors:
        elds = []
        for e in errors:
            loc = location(e.field) or ("", "", "", "")
            code = sub.join([e.code[0], esc_component(e.code[1], sep, enc), "HL70357"])
            elds.append(comp.join([loc[0], loc[1] if loc[0] else "", loc[2], code]))
        segments.append(sep.join(["ERR", rep.join(elds)]))
    return "\r".join(segments) + "\r"


def escape(text: str, sep: str, encoding: str) -> str:
    """HL7 escape sequences for the delimiters inside a text field (the escape character first)."""
    esc = encoding[2] if len(encoding) > 2 else "\\"
    mapping = [(esc, "E"), (sep, "F"), (encoding[0], "S"), (encoding[1], "R")]
    if len(encoding) > 3:
        mapping.append((encoding[3], "T"))
    out = []
    for ch in text.replace("\r", " ").replace("\n", " "):
        code = next((c for d, c in mapping if ch == d), None)
        out.append(f"{esc}{code}{esc}" if code else ch)
    return "".join(out)


def esc_component(text: str, sep: str, encoding: str) -> str:
    return escape(text, sep, encoding)
