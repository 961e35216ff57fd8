"""Appeal packet: the letter a practice sends a payer to contest a denial, rendered as a PDF.

Pure domain logic: facts in, PDF bytes out, no I/O. The argument comes from a per-tenant template (one editable
text per root cause, defaults below) with `{placeholder}` fields filled by a safe substitution: only known
names are replaced, in one pass, so an unknown or malformed placeholder stays as written and a value that
itself contains braces is never expanded again (no format-string injection).

Fonts: the PDF uses the standard Helvetica font in the Windows-1252 encoding, which needs no font file and
keeps the text extractable. It covers Western European names ("Zoë Ñúñez"); any other character is folded to
its base letter ("Łukasz" -> "Lukasz", "Dvořák" -> "Dvorák") and, failing that, printed as "?" — never a crash.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal

from fpdf import FPDF
from fpdf.fonts import FontFace

from rcm_denials.domain.codes import ROOT_CAUSES

# Names a template may use, each filled from the packet (see placeholder_values).
PLACEHOLDERS: tuple[str, ...] = (
    "payer_name",
    "payer_id",
    "payer_claim_number",
    "claim_id",
    "patient_control_number",
    "patient_name",
    "member_id",
    "date_of_service",
    "billed_amount",
    "paid_amount",
    "denied_amount",
    "expected_amount",
    "procedure_codes",
    "diagnosis_codes",
    "carc_codes",
    "rarc_codes",
    "root_cause",
    "practice_name",
    "practice_npi",
    "letter_date",
    "attachment_count",
)

DEFAULT_ARGUMENTS: dict[str, str] = {
    "eligibility": (
        "{payer_name} denied this claim for eligibility ({carc_codes}). The patient's coverage was active on "
        "{date_of_service}, as the enclosed eligibility verification shows. We ask that the claim be "
        "reprocessed under the patient's active coverage and the denied amount of {denied_amount} be paid."
    ),
    "registration": (
        "The denial ({carc_codes}) stems from the patient's identifying information on the claim. The member "
        "identification and demographics have been verified against the enclosed copy of the insurance card, "
        "and the corrected details are shown above. Please reprocess claim {payer_claim_number} with these "
        "details and pay the denied amount of {denied_amount}."
    ),
    "authorization": (
        "{payer_name} denied this service for a missing or invalid authorization ({carc_codes}). The service "
        "on {date_of_service} was authorized before it was rendered; the enclosed authorization record shows "
        "the reference number and the approved dates. We request that the claim be reprocessed under that "
        "authorization and the denied amount of {denied_amount} be paid."
    ),
    "coding": (
        "The denial ({carc_codes}) concerns the codes billed for {date_of_service}. The enclosed medical "
        "record documents the services as coded ({procedure_codes}) and supports the diagnoses reported "
        "({diagnosis_codes}). The codes are valid for the date of service and consistent with one another. "
        "We ask that {payer_name} reconsider and pay the denied amount of {denied_amount}."
    ),
    "bundling": (
        "{payer_name} bundled a service billed on {date_of_service} into another ({carc_codes}). The "
        "services ({procedure_codes}) were distinct: performed at a separate session, site or encounter, as "
        "the enclosed records show, and the modifier reported identifies them as such under NCCI policy. "
        "We request separate payment of the denied amount of {denied_amount}."
    ),
    "medical_necessity": (
        "{payer_name} found the service on {date_of_service} not medically necessary ({carc_codes}). The "
        "enclosed clinical notes document the patient's condition ({diagnosis_codes}), the treatment tried "
        "before, and why this service was needed; it meets the payer's published coverage criteria. We ask "
        "that the denial be overturned and the denied amount of {denied_amount} be paid."
    ),
    "documentation": (
        "This claim was denied for missing information or documentation ({carc_codes}; {rarc_codes}). The "
        "requested documentation is enclosed. Please complete the processing of claim {payer_claim_number} "
        "and pay the denied amount of {denied_amount}."
    ),
    "timely_filing": (
        "{payer_name} denied this claim as filed late ({carc_codes}). The claim was first submitted within "
        "the filing limit, as the enclosed clearinghouse acceptance report shows; the delay in final "
        "submission was not the provider's. We ask that the claim be accepted as timely and the denied "
        "amount of {denied_amount} be paid."
    ),
    "duplicate": (
        "{payer_name} denied this claim as a duplicate ({carc_codes}). It is not: the service on "
        "{date_of_service} is distinct from the earlier claim, as the enclosed records show (different "
        "service, time or units). Please process it as a separate claim and pay {denied_amount}."
    ),
    "coordination_of_benefits": (
        "The denial ({carc_codes}) concerns coordination of benefits. The enclosed information shows "
        "{payer_name}'s order of liability for this patient on {date_of_service}, including any other "
        "payer's explanation of benefits. Please reprocess the claim accordingly and pay {denied_amount}."
    ),
    "underpaid": (
        "{payer_name} paid {paid_amount} for claim {payer_claim_number}, but under our agreement the "
        "expected payment for these services ({procedure_codes}) is {expected_amount}. We request payment "
        "of the difference of {denied_amount}; the relevant fee schedule is enclosed."
    ),
    "non_covered": (
        "{payer_name} denied the service on {date_of_service} as not covered ({carc_codes}). The patient's "
        "plan covers this service under the circumstances documented in the enclosed records. We ask that "
        "the coverage decision be reconsidered and the denied amount of {denied_amount} be paid."
    ),
    "unclassified": (
        "We respectfully request reconsideration of claim {payer_claim_number} for the service on "
        "{date_of_service}, denied with {carc_codes}. The enclosed documentation supports the services as "
        "billed. Please reprocess the claim and pay the denied amount of {denied_amount}."
    ),
}

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """Replace each `{name}` whose name is in `values`; leave anything else exactly as written.

    One regex pass over the template only, so braces inside a value are never expanded in turn.
    """
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def unknown_placeholders(text: str) -> list[str]:
    """The `{name}` fields of a template that no packet fills, for an editor to warn about (sorted)."""
    return sorted({m.group(1) for m in _PLACEHOLDER.finditer(text)} - set(PLACEHOLDERS))


MAX_ARGUMENT_CHARS = 4000  # about a page of letter text


def template_problems(arguments: Mapping[str, str]) -> list[str]:
    """Why a tenant's edited arguments should be refused (empty: fine), for a clear 4xx when saving.

    Rendering never needs this (an unknown placeholder prints as written); it is for telling the editor early.
    The reasons name root causes and placeholders only, never the text itself.
    """
    problems: list[str] = []
    for root_cause, text in sorted(arguments.items()):
        if root_cause not in ROOT_CAUSES:
            problems.append(f"unknown root cause {root_cause!r}")
            continue
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{root_cause}: the argument is empty")
            continue
        if len(text) > MAX_ARGUMENT_CHARS:
            problems.append(f"{root_cause}: the argument is longer than {MAX_ARGUMENT_CHARS} characters")
        unknown = unknown_placeholders(text)
        if unknown:
            problems.append(f"{root_cause}: unknown placeholder(s) " + ", ".join("{" + u + "}" for u in unknown))
    return problems


@dataclass(frozen=True)
class PostalAddress:
    lines: tuple[str, ...]
    city: str
    state: str
    postal_code: str

    def block(self) -> list[str]:
        return [*self.lines, f"{self.city}, {self.state} {self.postal_code}"]


@dataclass(frozen=True)
class ServiceLine:
    line_number: int
    procedure_code: str
    billed: Decimal
    paid: Decimal
    modifiers: tuple[str, ...] = ()
    diagnosis_codes: tuple[str, ...] = ()
    units: Decimal = Decimal("1")
    date_of_service: date | None = None  # None: the claim's date of service

    @property
    def denied(self) -> Decimal:
        return max(self.billed - self.paid, Decimal("0"))

    @property
    def code_display(self) -> str:
        return "-".join([self.procedure_code, *self.modifiers])


@dataclass(frozen=True)
class ClaimFacts:
    claim_id: str
    patient_control_number: str
    payer_name: str
    payer_id: str
    payer_claim_number: str
    date_of_service: date
    billed: Decimal
    paid: Decimal
    denied: Decimal
    lines: tuple[ServiceLine, ...] = ()
    patient_name: str | None = None
    member_id: str | None = None
    payer_address: PostalAddress | None = None
    expected: Decimal | None = None  # underpayments: what the contract says should have been paid
    date_of_service_end: date | None = None


@dataclass(frozen=True)
class ExplainedCode:
    code: str
    explanation: str


@dataclass(frozen=True)
class DenialCode:
    """One adjustment as the payer reported it: group code, CARC, the RARCs with it, each explained in words."""

    group_code: str
    carc: ExplainedCode
    rarcs: tuple[ExplainedCode, ...] = ()
    line_number: int | None = None  # None: a claim-level adjustment
    amount: Decimal | None = None

    @property
    def label(self) -> str:
        return f"{self.group_code}-{self.carc.code}"


@dataclass(frozen=True)
class Practice:
    name: str
    npi: str
    address: PostalAddress
    phone: str | None = None
    signer_name: str | None = None
    signer_title: str | None = None


@dataclass(frozen=True)
class AppealTemplate:
    """A tenant's editable arguments by root cause; a root cause it does not override uses the default."""

    arguments: Mapping[str, str] = field(default_factory=dict)
    closing: str = (
        "Thank you for your prompt reconsideration. Please contact our office with any question about "
        "this appeal."
    )

    def argument_for(self, root_cause: str) -> str:
        for source in (self.arguments, DEFAULT_ARGUMENTS):
            if root_cause in source:
                return source[root_cause]
        return self.arguments.get("unclassified", DEFAULT_ARGUMENTS["unclassified"])


@dataclass(frozen=True)
class AppealPacket:
    claim: ClaimFacts
    denials: tuple[DenialCode, ...]
    root_cause: str
    practice: Practice
    letter_date: date
    attachments: tuple[str, ...] = ()


def money(amount: Decimal | None) -> str:
    if amount is None:
        return "n/a"
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def long_date(d: date) -> str:
    return f"{d.strftime('%B')} {d.day}, {d.year}"


def _service_dates(claim: ClaimFacts) -> str:
    if claim.date_of_service_end and claim.date_of_service_end != claim.date_of_service:
        return f"{long_date(claim.date_of_service)} to {long_date(claim.date_of_service_end)}"
    return long_date(claim.date_of_service)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def placeholder_values(packet: AppealPacket) -> dict[str, str]:
    claim = packet.claim
    rarcs = _unique([r.code for d in packet.denials for r in d.rarcs])
    values = {
        "payer_name": claim.payer_name,
        "payer_id": claim.payer_id,
        "payer_claim_number": claim.payer_claim_number,
        "claim_id": claim.claim_id,
        "patient_control_number": claim.patient_control_number,
        "patient_name": claim.patient_name or "the patient",
        "member_id": claim.member_id or "",
        "date_of_service": _service_dates(claim),
        "billed_amount": money(claim.billed),
        "paid_amount": money(claim.paid),
        "denied_amount": money(claim.denied),
        "expected_amount": money(claim.expected),
        "procedure_codes": ", ".join(_unique([ln.code_display for ln in claim.lines])) or "as billed",
        "diagnosis_codes": ", ".join(_unique([dx for ln in claim.lines for dx in ln.diagnosis_codes]))
        or "as billed",
        "carc_codes": ", ".join(_unique([d.label for d in packet.denials])) or "no reason code",
        "rarc_codes": ", ".join(rarcs) or "no remark code",
        "root_cause": packet.root_cause.replace("_", " "),
        "practice_name": packet.practice.name,
        "practice_npi": packet.practice.npi,
        "letter_date": long_date(packet.letter_date),
        "attachment_count": str(len(packet.attachments)),
    }
    return values


def argument_text(packet: AppealPacket, template: AppealTemplate | None = None) -> str:
    template = template or AppealTemplate()
    return fill_placeholders(template.argument_for(packet.root_cause), placeholder_values(packet))


# Characters outside Latin letters that NFKD does not decompose to an ASCII base.
_FOLD = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "Ħ": "H", "ħ": "h", "ŧ": "t"})
_ENCODING = "cp1252"


def pdf_safe(text: str) -> str:
    """Text the standard PDF fonts can print: Windows-1252 kept, other letters folded, the rest as '?'."""
    out: list[str] = []
    for ch in text.translate(_FOLD):
        if ch in "\n\t":
            out.append(ch if ch == "\n" else " ")
            continue
        if unicodedata.category(ch).startswith("C"):
            continue  # control and format characters: nothing to print
        try:
            ch.encode(_ENCODING)
            out.append(ch)
            continue
        except UnicodeEncodeError:
            pass
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        try:
            base.encode(_ENCODING)
            out.append(base or "?")
        except UnicodeEncodeError:
            out.append("?")
    return "".join(out)


def _one_line(text: str) -> str:
    return " ".join(pdf_safe(text).split())


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """`text` cut with "..." to fit `width` on one line (for a footer, which must not wrap)."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "...") > width:
        text = text[:-1]
    return text + "..."


class _Letter(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(110)
        page = f"  -  page {self.page_no()} of {{nb}}"
        room = self.epw - self.get_string_width(page + "99")
        self.cell(0, 5, _fit(self, self.footer_text, room) + page, align="C")
        self.set_text_color(0)


_LINE = 5.0  # mm, body line height


def render_appeal_pdf(packet: AppealPacket, template: AppealTemplate | None = None) -> bytes:
    """The appeal letter as PDF bytes (US Letter, text extractable). Same input, same bytes."""
    claim, practice = packet.claim, packet.practice
    pdf = _Letter(orientation="portrait", unit="mm", format="letter")
    pdf.core_fonts_encoding = _ENCODING
    pdf.footer_text = _one_line(f"Appeal of claim {claim.payer_claim_number} - {practice.name}")
    pdf.set_margins(22, 16, 22)
    pdf.set_auto_page_break(True, margin=20)
    # Fixed date: the bytes depend on the packet only. No PHI in the document properties.
    pdf.set_creation_date(datetime(*packet.letter_date.timetuple()[:3], tzinfo=timezone.utc))
    pdf.set_title(_one_line(f"Appeal - claim {claim.claim_id}"))
    pdf.set_creator("OpenRCM denials")
    pdf.add_page()

    _letterhead(pdf, practice)
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, _LINE, long_date(packet.letter_date), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _payer_block(pdf, claim)
    pdf.ln(3)
    _re_block(pdf, claim)
    pdf.ln(3)
    _paragraph(pdf, "To the appeals department:")
    _lines_table(pdf, claim, packet.denials)
    _codes_explained(pdf, packet.denials)
    _heading(pdf, "Basis for appeal")
    for para in re.split(r"\n\s*\n", argument_text(packet, template)):
        _paragraph(pdf, para)
    _attachments(pdf, packet.attachments)
    _paragraph(pdf, (template or AppealTemplate()).closing)
    _signature(pdf, practice)
    return bytes(pdf.output())


def _letterhead(pdf: FPDF, practice: Practice) -> None:
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 7, _one_line(practice.name), align="LEFT", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    contact = [", ".join(practice.address.block()), f"NPI {practice.npi}"]
    if practice.phone:
        contact.append(f"Phone {practice.phone}")
    pdf.multi_cell(0, 4.5, _one_line("  |  ".join(contact)), align="LEFT", new_x="LMARGIN", new_y="NEXT")
    y = pdf.get_y() + 1.5
    pdf.set_draw_color(60)
    pdf.set_line_width(0.4)
    pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
    pdf.set_y(y + 4)


def _payer_block(pdf: FPDF, claim: ClaimFacts) -> None:
    pdf.set_font("Helvetica", "", 10)
    lines = [claim.payer_name, "Attn: Appeals / Reconsideration"]
    if claim.payer_address:
        lines += claim.payer_address.block()
    lines.append(f"Payer ID {claim.payer_id}")
    for line in lines:
        pdf.multi_cell(0, _LINE, _one_line(line), align="LEFT", new_x="LMARGIN", new_y="NEXT")


def _re_block(pdf: FPDF, claim: ClaimFacts) -> None:
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, _LINE, "RE: Request for reconsideration of a denied claim", new_x="LMARGIN", new_y="NEXT")
    facts = []
    if claim.patient_name:
        facts.append(("Patient", claim.patient_name))
    if claim.member_id:
        facts.append(("Member ID", claim.member_id))
    facts += [
        ("Payer claim number", claim.payer_claim_number),
        ("Patient control number", claim.patient_control_number),
        ("Our claim ID", claim.claim_id),
        ("Date of service", _service_dates(claim)),
        ("Billed", money(claim.billed)),
        ("Paid", money(claim.paid)),
        ("Denied", money(claim.denied)),
    ]
    if claim.expected is not None:
        facts.append(("Expected", money(claim.expected)))
    for label, value in facts:
        pdf.set_x(pdf.l_margin + 8)
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(45, _LINE, f"{label}:")
        pdf.set_font("Helvetica", "B", 10)
        pdf.multi_cell(0, _LINE, _one_line(value), align="LEFT", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)


def _paragraph(pdf: FPDF, text: str) -> None:
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, _LINE, pdf_safe(text.strip()), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


_HEADINGS = FontFace(emphasis="BOLD", fill_color=(225, 225, 225))


def _lines_table(pdf: FPDF, claim: ClaimFacts, denials: tuple[DenialCode, ...]) -> None:
    _heading(pdf, "Denied services")
    by_line: dict[int | None, list[str]] = {}
    for d in denials:
        by_line.setdefault(d.line_number, []).append(
            " ".join([d.label, *(r.code for r in d.rarcs)]) + (f" {money(d.amount)}" if d.amount is not None else "")
        )
    pdf.set_font("Helvetica", "", 9)
    with pdf.table(
        col_widths=(8, 16, 22, 18, 14, 14, 14, 34),
        text_align=("CENTER", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
        headings_style=_HEADINGS,
        line_height=4.5,
        padding=1,
    ) as table:
        table.row(["Line", "Date", "Procedure", "Diagnoses", "Billed", "Paid", "Denied", "Adjustment codes"])
        for ln in claim.lines:
            dos = ln.date_of_service or claim.date_of_service
            table.row(
                [
                    str(ln.line_number),
                    dos.strftime("%m/%d/%Y"),
                    _one_line(f"{ln.code_display} x{ln.units.normalize():f}"),
                    _one_line(", ".join(ln.diagnosis_codes)),
                    money(ln.billed),
                    money(ln.paid),
                    money(ln.denied),
                    _one_line("; ".join(by_line.get(ln.line_number, []))),
                ]
            )
        known = {ln.line_number for ln in claim.lines}
        loose = [c for key, codes in by_line.items() if key is None or key not in known for c in codes]
        if loose:  # claim-level adjustments (and any for a line not listed) in one row
            table.row(["", "", "Claim level", "", "", "", "", _one_line("; ".join(loose))])
    pdf.ln(2)


def _codes_explained(pdf: FPDF, denials: tuple[DenialCode, ...]) -> None:
    _heading(pdf, "Denial codes explained")
    seen: set[str] = set()
    rows: list[tuple[str, str]] = []
    for d in denials:
        if d.label not in seen:
            seen.add(d.label)
            rows.append((f"CARC {d.label}", d.carc.explanation))
        for r in d.rarcs:
            if f"RARC {r.code}" not in seen:
                seen.add(f"RARC {r.code}")
                rows.append((f"RARC {r.code}", r.explanation))
    if not rows:
        _paragraph(pdf, "The payer reported no adjustment reason code.")
        return
    pdf.set_font("Helvetica", "", 9)
    with pdf.table(
        col_widths=(22, 78),
        text_align=("LEFT", "LEFT"),
        headings_style=_HEADINGS,
        line_height=4.5,
        padding=1,
    ) as table:
        table.row(["Code", "Meaning"])
        for code, text in rows:
            table.row([_one_line(code), _one_line(text)])
    pdf.ln(2)


def _attachments(pdf: FPDF, attachments: tuple[str, ...]) -> None:
    _heading(pdf, "Enclosures")
    if not attachments:
        _paragraph(pdf, "None.")
        return
    pdf.set_font("Helvetica", "", 10)
    for n, name in enumerate(attachments, 1):
        pdf.set_x(pdf.l_margin + 4)
        pdf.multi_cell(0, _LINE, _one_line(f"{n}. {name}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _signature(pdf: FPDF, practice: Practice) -> None:
    if pdf.will_page_break(30):
        pdf.add_page()  # keep the signature block together
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, _LINE, "Sincerely,", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(12)
    y = pdf.get_y()
    pdf.set_draw_color(0)
    pdf.set_line_width(0.2)
    pdf.line(pdf.l_margin, y, pdf.l_margin + 70, y)
    pdf.ln(1.5)
    for line in (practice.signer_name, practice.signer_title, practice.name, f"NPI {practice.npi}", practice.phone):
        if line:
            pdf.multi_cell(0, _LINE, _one_line(line), align="LEFT", new_x="LMARGIN", new_y="NEXT")
