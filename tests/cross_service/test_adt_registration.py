"""An ADT registration mapped by charges is one eligibility can register: a phone that is no US number is left out by
charges instead of refused by eligibility after the sender's AA (which would lose the registration)."""

from __future__ import annotations

import pytest

from rcm_charges.domain.hl7_adt import adt_to_registration
from rcm_eligibility.registration_service import registration_from_feed

ADT = "\r".join([
    "MSH|^~\\&|ACMEEHR|SPRINGFIELD|OPENRCM|OPENRCM|20261201083000||ADT^A04^ADT_A01|ADT-0001|P|2.5.1",
    "EVN|A04|20261201083000",
    "PID|1||MRN-42^^^ACME^MR||Zyxwvutson^Quentella^M||19840719|F|||12 Elm St^^Springfield^IL^62704||{phone}",
    "PV1|1|O",
    "|".join(["IN1", "1", "GOLD", "60054", "Acme Health Plan", *[""] * 7, "20260101", *[""] * 4, "SEL", *[""] * 18,
              "MBR-778899"]),  # IN1-1..4, IN1-12 effective date, IN1-17 relationship, IN1-36 member id
])


@pytest.mark.parametrize("phone,kept", [("(217) 555-0134", "2175550134"), ("1234567890", None),
                                        ("555-0134", None)])
def test_every_adt_phone_either_registers_or_is_left_out(phone, kept):
    patient, coverages = registration_from_feed(adt_to_registration(ADT.format(phone=phone)), on_file=None)
    assert patient.phone == kept and patient.last_name == "Zyxwvutson"
    assert [c.member_id for c in coverages] == ["MBR-778899"]
