"""The appeal packet PDF: rendered to an image (it is a real, non-blank US Letter page) and its text extracted
(claim facts, every denial code explained, the template's argument filled, the enclosures, the signature)."""

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pypdfium2 as pdfium
import pytest

from rcm_denials.domain.appeal_packet import (
    DEFAULT_ARGUMENTS,
    PLACEHOLDERS,
    ROOT_CAUSES,
    AppealPacket,
    AppealTemplate,
    ClaimFacts,
    DenialCode,
    ExplainedCode,
    PostalAddress,
    Practice,
    ServiceLine,
    argument_text,
    fill_placeholders,
    pdf_safe,
    render_appeal_pdf,
    template_problems,
    unknown_placeholders,
)

LETTER_PT = (612.0, 792.0)  # 8.5 x 11 in


def packet(**changes) -> AppealPacket:
    claim = ClaimFacts(
        claim_id="CLM-2026-000417",
        patient_control_number="PCN-88412",
        payer_name="Blue Prairie Health Plan",
        payer_id="BPHP01",
        payer_claim_number="2026310A00917",
        date_of_service=date(2026, 10, 3),
        billed=D("385.00"),
        paid=D("0.00"),
        denied=D("385.00"),
        lines=(
            ServiceLine(1, "99214", D("185.00"), D("0.00"), modifiers=("25",), diagnosis_codes=("E11.9", "I10")),
            ServiceLine(2, "20610", D("200.00"), D("0.00"), modifiers=("RT",), diagnosis_codes=("M17.11",)),
        ),
        patient_name="Zoë Ñúñez",
        member_id="XJH448812001",
        payer_address=PostalAddress(("Appeals Unit", "PO Box 4410"), "Springfield", "IL", "62708"),
    )
    denials = (
        DenialCode(
            "CO",
            ExplainedCode("197", "Precertification/notification/authorization/pre-treatment absent."),
            (ExplainedCode("N54", "Claim information is inconsistent with pre-certified/authorized services."),),
            line_number=2,
            amount=D("200.00"),
        ),
        DenialCode(
            "CO",
            ExplainedCode("16", "Claim/service lacks information or has submission/billing error(s)."),
            (ExplainedCode("M127", "Missing patient medical record for this service."),),
            line_number=1,
            amount=D("185.00"),
        ),
    )
    base = AppealPacket(
        claim=claim,
        denials=denials,
        root_cause="authorization",
        practice=Practice(
            name="Lakeside Family Medicine",
            npi="1234567893",
            address=PostalAddress(("210 Harbor Street",), "Chicago", "IL", "60601"),
            phone="(312) 555-0142",
            signer_name="Dana Whitfield",
            signer_title="Revenue Cycle Manager",
        ),
        letter_date=date(2026, 12, 7),
        attachments=("Authorization approval letter, ref. AUTH-55821", "Office visit note of 10/03/2026"),
    )
    return replace(base, **changes)


def pdf_text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()


def flat(text: str) -> str:
    """Extracted text with line wraps joined: a sentence may wrap anywhere in the letter."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def rendered() -> bytes:
    return render_appeal_pdf(packet())


def test_the_pdf_renders_to_a_non_blank_us_letter_page(rendered):
    assert rendered.startswith(b"%PDF-")
    doc = pdfium.PdfDocument(rendered)
    try:
        assert len(doc) >= 1
        for i in range(len(doc)):
            assert doc[i].get_size() == LETTER_PT
        image = doc[0].render(scale=1).to_pil().convert("L")
    finally:
        doc.close()
    assert image.size == (612, 792)
    histogram = image.histogram()
    dark = sum(histogram[:128])
    white = sum(histogram[250:])
    # Ink on paper: a real amount of text, but mostly white.
    assert dark > 0.01 * 612 * 792
    assert white > 0.6 * 612 * 792


def test_the_text_is_extractable_with_the_claim_facts(rendered):
    text = flat(pdf_text(rendered))
    for fact in (
        "Lakeside Family Medicine",
        "NPI 1234567893",
        "210 Harbor Street",
        "December 7, 2026",
        "Blue Prairie Health Plan",
        "PO Box 4410",
        "Payer ID BPHP01",
        "RE:",
        "CLM-2026-000417",
        "PCN-88412",
        "2026310A00917",
        "XJH448812001",
        "October 3, 2026",
        "$385.00",
        "99214-25",
        "20610-RT",
        "M17.11",
        "$185.00",
        "$200.00",
    ):
        assert fact in text, fact


def test_a_name_outside_ascii_is_printed_as_written(rendered):
    assert "Zoë Ñúñez" in pdf_text(rendered)


def test_each_denial_code_is_explained_and_tied_to_its_line(rendered):
    text = flat(pdf_text(rendered))
    for code, meaning in (
        ("CARC CO-197", "Precertification/notification/authorization/pre-treatment absent."),
        ("RARC N54", "Claim information is inconsistent with pre-certified/authorized services."),
        ("CARC CO-16", "Claim/service lacks information or has submission/billing error(s)."),
        ("RARC M127", "Missing patient medical record for this service."),
    ):
        assert f"{code} {meaning}" in text, code
    assert re.search(r"1 10/03/2026 99214-25 x1 .*CO-16 M127 \$185\.00", text)
    assert re.search(r"2 10/03/2026 20610-RT x1 .*CO-197 N54 \$200\.00", text)


def test_the_argument_comes_from_the_root_cause_template_with_placeholders_filled(rendered):
    text = flat(pdf_text(rendered))
    expected = (
        "Blue Prairie Health Plan denied this service for a missing or invalid authorization (CO-197, CO-16). "
        "The service on October 3, 2026 was authorized before it was rendered"
    )
    assert expected in text
    assert "the denied amount of $385.00 be paid." in text
    assert "{" not in text


def test_the_attachments_and_the_signature_block_appear(rendered):
    text = pdf_text(rendered)
    assert "1. Authorization approval letter, ref. AUTH-55821" in text
    assert "2. Office visit note of 10/03/2026" in text
    assert "Sincerely," in text
    assert "Dana Whitfield" in text and "Revenue Cycle Manager" in text


def test_a_tenant_template_overrides_one_root_cause_and_keeps_the_defaults_for_the_rest():
    template = AppealTemplate(
        arguments={"authorization": "Per our contract with {payer_name}, claim {payer_claim_number} for "
                   "{patient_name} needed no authorization."}
    )
    text = flat(pdf_text(render_appeal_pdf(packet(), template)))
    assert (
        "Per our contract with Blue Prairie Health Plan, claim 2026310A00917 for Zoë Ñúñez needed no "
        "authorization." in text
    )
    assert "was authorized before it was rendered" not in text
    coding = argument_text(packet(root_cause="coding"), template)
    assert coding.startswith("The denial (CO-197, CO-16) concerns the codes billed for October 3, 2026.")


def test_a_template_with_bad_placeholders_renders_them_as_written():
    nasty = (
        "Dear {payer_name}: {unknown_field} {0} {} {payer_name.__class__} {payer_name!r} {{payer_id}} "
        "{claim_id:>40} %(claim_id)s $claim_id {"
    )
    template = AppealTemplate(arguments={"authorization": nasty})
    filled = argument_text(packet(), template)
    assert filled == (
        "Dear Blue Prairie Health Plan: {unknown_field} {0} {} {payer_name.__class__} {payer_name!r} "
        "{BPHP01} {claim_id:>40} %(claim_id)s $claim_id {"
    )
    text = flat(pdf_text(render_appeal_pdf(packet(), template)))
    assert "{unknown_field} {0} {} {payer_name.__class__}" in text
    assert unknown_placeholders(nasty) == ["unknown_field"]


def test_a_value_holding_braces_is_not_expanded_again():
    claim = replace(packet().claim, payer_name="{claim_id} Health {__class__}")
    filled = fill_placeholders("{payer_name} / {claim_id}", {"payer_name": claim.payer_name, "claim_id": "C1"})
    assert filled == "{claim_id} Health {__class__} / C1"
    text = flat(pdf_text(render_appeal_pdf(packet(claim=claim))))
    assert "{claim_id} Health {__class__} denied this service" in text


@pytest.mark.parametrize("root_cause", ROOT_CAUSES)
def test_every_root_cause_has_a_default_argument_that_fills_completely(root_cause):
    assert DEFAULT_ARGUMENTS[root_cause].strip()
    assert unknown_placeholders(DEFAULT_ARGUMENTS[root_cause]) == []
    filled = argument_text(packet(root_cause=root_cause))
    assert "{" not in filled and "}" not in filled
    assert len(filled) > 100


def test_defaults_cover_exactly_the_root_causes():
    assert set(DEFAULT_ARGUMENTS) == set(ROOT_CAUSES)
    used = {name for text in DEFAULT_ARGUMENTS.values() for name in re.findall(r"\{(\w+)\}", text)}
    assert used <= set(PLACEHOLDERS)


def test_an_unknown_root_cause_argues_as_unclassified():
    assert argument_text(packet(root_cause="martian")) == argument_text(packet(root_cause="unclassified"))
    custom = AppealTemplate(arguments={"unclassified": "Tenant fallback for {claim_id}."})
    assert argument_text(packet(root_cause="martian"), custom) == "Tenant fallback for CLM-2026-000417."


def test_underpaid_argues_the_expected_amount():
    claim = replace(packet().claim, paid=D("150.00"), denied=D("62.50"), expected=D("212.50"))
    text = flat(pdf_text(render_appeal_pdf(packet(claim=claim, root_cause="underpaid"))))
    assert "Blue Prairie Health Plan paid $150.00 for claim 2026310A00917" in text
    assert "is $212.50. We request payment of the difference of $62.50" in text
    assert "Expected: $212.50" in text


def test_names_beyond_latin_1_are_folded_never_a_crash():
    assert pdf_safe("Łukasz Dvořák Đorđe") == "Lukasz Dvorák Dorde"  # á is in Windows-1252, ř is not
    assert pdf_safe("王 Zoë") == "? Zoë"
    assert pdf_safe("tab\there\x00\u200b") == "tab here"
    claim = replace(packet().claim, patient_name="Łukasz Dvořák 王")
    practice = replace(packet().practice, name="Šárka Ōta Clinic — “Nord”")
    text = pdf_text(render_appeal_pdf(packet(claim=claim, practice=practice)))
    assert "Lukasz Dvorák ?" in text
    assert "Šárka Ota Clinic — “Nord”" in text  # Š, dashes and curly quotes are in Windows-1252


def test_a_long_packet_breaks_across_pages_with_every_line_and_the_signature():
    lines = tuple(ServiceLine(n, "97110", D("40.00"), D("0.00"), diagnosis_codes=("M54.50",)) for n in range(1, 41))
    denials = tuple(
        DenialCode("CO", ExplainedCode("151", "Payment adjusted: frequency/units exceed the allowance."), (), n)
        for n in range(1, 41)
    )
    claim = replace(packet().claim, lines=lines, billed=D("1600.00"), denied=D("1600.00"))
    pdf = render_appeal_pdf(packet(claim=claim, denials=denials, root_cause="coding"))
    doc = pdfium.PdfDocument(pdf)
    pages = len(doc)
    doc.close()
    assert pages >= 2
    text = pdf_text(pdf)
    assert all(re.search(rf"^{n} 10/03/2026 97110 x1", text, re.M) for n in range(1, 41))
    assert f"page {pages} of {pages}" in text
    assert "Dana Whitfield" in text


def test_the_same_packet_gives_the_same_bytes_and_no_phi_in_the_document_properties(rendered):
    assert render_appeal_pdf(packet()) == rendered
    doc = pdfium.PdfDocument(rendered)
    try:
        metadata = " ".join(str(v) for v in doc.get_metadata_dict().values())
    finally:
        doc.close()
    assert "CLM-2026-000417" in metadata
    assert "Zo" not in metadata and "XJH448812001" not in metadata


def test_template_problems_name_the_root_cause_and_placeholder_for_an_editor():
    assert template_problems({rc: DEFAULT_ARGUMENTS[rc] for rc in ROOT_CAUSES}) == []
    assert template_problems(
        {
            "coding": "See {payer_name} and {member_number}.",
            "martian": "{payer_name}",
            "bundling": "   ",
            "duplicate": "x" * 4001,
        }
    ) == [
        "bundling: the argument is empty",
        "coding: unknown placeholder(s) {member_number}",
        "duplicate: the argument is longer than 4000 characters",
        "unknown root cause 'martian'",
    ]


def test_a_very_long_value_wraps_instead_of_running_off_the_page():
    claim = replace(packet().claim, payer_claim_number="9" * 150)
    pdf = render_appeal_pdf(packet(claim=claim))
    assert "9" * 150 in pdf_text(pdf).replace("\n", "").replace("\r", "")
    doc = pdfium.PdfDocument(pdf)
    try:
        for i in range(len(doc)):
            textpage = doc[i].get_textpage()
            right_edges = [textpage.get_charbox(c)[2] for c in range(textpage.count_chars())]
            assert max(right_edges) <= LETTER_PT[0] - 36  # inside a half-inch margin
    finally:
        doc.close()
