"""The batch (file mailbox) payer connection, with a stand-in payer answering in its own task."""

import asyncio
from datetime import date, datetime, timezone

import pytest

from rcm_x12.eligibility_270 import EligibilityInquiry, Subscriber, build_270
from rcm_x12.eligibility_271 import parse_271
from rcm_eligibility.payers import FileDropPayerConnection, interchange_control_number
from rcm_runtime.errors import TransientError

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)


def _270(control: int) -> str:
    inquiry = EligibilityInquiry(payer_id="SBX01", payer_name="Sandbox", provider_npi="1234567893",
                                 provider_name="Clinic", date_of_service=date(2026, 8, 1),
                                 subscriber=Subscriber(member_id="M123", first_name="A", last_name="B"))
    return build_270(inquiry, control_number=control, sender_id="OPENRCM", receiver_id="SBX01", now=NOW)


ACTIVE_271 = ("ISA*00*          *00*          *ZZ*SBX01          *ZZ*OPENRCM        *260901*1200*^*00501*000000077*0*P*:~"
              "GS*HB*SBX01*OPENRCM*20260901*1200*77*X*005010X279A1~ST*271*0001*005010X279A1~"
              "BHT*0022*11*R1*20260901*1200~HL*1**20*1~NM1*PR*2*SANDBOX*****PI*SBX01~HL*2*1*21*1~"
              "NM1*1P*2*CLINIC*****XX*1234567893~HL*3*2*22*0~TRN*2*12*9OPENRCM~NM1*IL*1*B*A****MI*M123~"
              "EB*1*IND*30**GOLD~SE*11*0001~GE*1*77~IEA*1*000000077~")


def test_control_number_is_read_from_the_isa():
    assert interchange_control_number(_270(12)) == "000000012"
    with pytest.raises(ValueError):
        interchange_control_number("not x12")


async def test_270_is_dropped_and_the_matching_271_is_picked_up(tmp_path):
    conn = FileDropPayerConnection(tmp_path / "out", tmp_path / "in", timeout_s=5, poll_s=0.02)

    async def payer():  # watches the mailbox like a clearinghouse would
        while not (tmp_path / "out" / "000000012.270").exists():
            await asyncio.sleep(0.01)
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / "000000012.271").write_text(ACTIVE_271)

    responder = asyncio.create_task(payer())
    answer = await conn.inquire(_270(12))
    await responder
    assert parse_271(answer)[0].active is True
    assert (tmp_path / "in" / "processed" / "000000012.271").exists()  # consumed once
    assert not list((tmp_path / "out").glob(".*.part"))  # no half-written files left


async def test_no_answer_in_time_is_transient_not_a_rejection(tmp_path):
    conn = FileDropPayerConnection(tmp_path / "out", tmp_path / "in", timeout_s=0.1, poll_s=0.02)
    with pytest.raises(TransientError, match="no 271"):
        await conn.inquire(_270(13))
