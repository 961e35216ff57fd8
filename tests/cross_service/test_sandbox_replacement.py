"""A claim sent again as a replacement (CLM05-3 7, REF*F8 the payer's claim number) or a void (8), against the real
PostgreSQL: the sandbox payer answers a replacement of a claim it remitted with the standing payment reversed (CLP02
22, the same CLP01/CLP07, every amount negated) and the replacement adjudicated anew in one check, a void with the
reversal alone. Every 835 is held to the project's IG validator and pyx12, and posted by remittance: the claim's
ledger ends where the standing adjudication puts it (no double charge, no CO-197 left over)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import text

from rcm_contracts.claim import Claim, patient_control_number
from rcm_sandbox.domain.clearinghouse import sandbox_claim_id
from rcm_x12.codec import parse_interchange
from rcm_x12.format import x12_amount
from rcm_x12.ig.validator import validate_interchange
from tests.cross_service.test_sandbox_remittance import (  # noqa: F401  (apis: the fixture, shared)
    apis, claim_for, ledger, registered, send,
)
from tests.support.pyx12_oracle import assert_pyx12_valid

pytestmark = pytest.mark.integration

MRI = "72148"  # SBX01 pays it only with a prior authorization (CO-197 without)


def mri_claim(member: str, seed: int) -> Claim:
    """One MRI line, sent without a prior authorization."""
    claim = claim_for(member, seed=seed)
    line = {**claim.lines[0].model_dump(mode="json"), "line_number": 1, "procedure_code": MRI, "modifiers": [],
            "charge": "1200.00", "units": "1"}
    return Claim.model_validate({**claim.model_dump(mode="json"), "lines": [line], "total_charge": "1200.00",
                                 "prior_authorization": None})


def sent_again(claim: Claim, frequency: str, pccn: str, **changes) -> Claim:
    return Claim.model_validate({**claim.model_dump(mode="json"), "frequency_code": frequency,
                                 "original_claim_number": pccn, **changes})


async def cycle(sandbox, remittance=None) -> list[str]:
    """One remit cycle a second later: every ERA it sends is valid (IG validator and pyx12) and, given remittance,
    posted. Returns the ERAs."""
    sandbox.clock.advance(timedelta(seconds=1))
    before = len(sandbox.eras.delivered)
    await sandbox.payer.remit_once()
    eras = [era for _, era in sandbox.eras.delivered[before:]]
    for era in eras:
        report = validate_interchange(era)
        assert report.ok, [str(f) for f in report.findings[:5]]
        assert_pyx12_valid(era, "835")
        if remittance is not None:
            resp = await remittance.client.post(
                "/v1/remittances/x12", content=era.encode(),
                headers=remittance.headers("tenant-a", **{"content-type": "application/edi-x12"}))
            assert resp.status_code == 200 and resp.json()["status"] == "posted", resp.text
    return eras


def clps(era: str) -> list[list[str]]:
    """Each CLP of the ERA, its elements (CLP01..CLP09)."""
    [transaction] = parse_interchange(era).transactions
    return [[s.element(i) for i in range(1, 10)] for s in transaction.segments if s.tag == "CLP"]


def cas_of(entries: list[dict], carc: str) -> D:
    return sum((D(e["amount"]) for e in entries if e.get("reason_code") == carc and e["kind"] != "provider_adjustment"),
               D(0))


def payer_claim(claim: Claim):
    """The payer's id for the claim (the clearinghouse's, per submitter and CLM01)."""
    return sandbox_claim_id("tenant-a", patient_control_number(claim.claim_id))


async def row(sandbox, claim: Claim) -> dict:
    async with sandbox.engine.connect() as conn:
        found = (await conn.execute(text(
            "SELECT status, adjudication IS NOT NULL AS kept, remitted_claim IS NOT NULL AS paid_for, recoupment_due "
            "FROM payer_claims WHERE claim_id = :id"), {"id": payer_claim(claim)})).mappings().one()
    return dict(found)


async def test_a_denial_replaced_then_replaced_again_then_voided_posts_to_the_right_balance(apis):
    sandbox, remittance = apis
    original = mri_claim("COINS30001", seed=11)
    pcn = patient_control_number(original.claim_id)
    ledger_id = await registered(remittance, original, "SBX01")
    await send(sandbox, [original], "SBX01", 61)

    [denial] = await cycle(sandbox, remittance)
    [clp] = clps(denial)
    pccn = clp[6]
    assert (clp[1], clp[2], clp[3], clp[8]) == ("4", "1200", "0", "1")
    assert "CAS*CO*197*1200~" in denial
    assert (await row(sandbox, original))["kept"]  # every remitted claim's payment is kept, not only reprocessed ones
    after_denial = await ledger(remittance, ledger_id)
    assert cas_of(after_denial["entries"], "197") == D("1200.00")

    # the provider gets the authorization and replaces the claim; the payer reverses the denial and pays
    replacement = sent_again(original, "7", pccn, prior_authorization="AUTH7788")
    await send(sandbox, [replacement], "SBX01", 62)
    [replaced] = await cycle(sandbox, remittance)
    reversal, anew = clps(replaced)
    assert reversal == [pcn, "22", "-1200", "0", "", "12", pccn, "11", "1"]  # the denial negated, as it was sent
    assert anew[:2] == [pcn, "1"] and anew[6:9] == [pccn, "11", "7"]
    assert "CAS*CO*197*-1200~" in replaced
    paid, patient = D(anew[3]), D(anew[4])
    assert paid > 0 and patient > 0  # COINS: 20 % coinsurance on the allowed amount
    assert replaced.split("~")[3].startswith(f"BPR*I*{x12_amount(paid)}*C*ACH")  # the check pays the replacement
    assert (await row(sandbox, original))["status"] == "replaced"
    totals = (await ledger(remittance, ledger_id))["totals"]
    entries = (await ledger(remittance, ledger_id))["entries"]
    assert cas_of(entries, "197") == 0  # no CO-197 left over
    assert D(totals["charge"]) == D("1200.00")  # charged once: the reversal took the denial's charge back
    assert D(totals["payer_paid"]) == paid
    assert D(totals["balance"]) == patient == D(totals["patient_responsibility"]["total"])

    # sent again as a 7: the payer takes back the replacement's payment (not the denial) and pays anew
    again = sent_again(original, "7", pccn, prior_authorization="AUTH7789")
    await send(sandbox, [again], "SBX01", 63)
    [second] = await cycle(sandbox, remittance)
    reversal, anew = clps(second)
    assert reversal[:5] == [pcn, "22", "-1200", x12_amount(-paid), x12_amount(-patient)] and reversal[8] == "7"
    assert "CO*197" not in second
    assert anew[1:5] == ["1", "1200", x12_amount(paid), x12_amount(patient)]
    assert not (await row(sandbox, original))["recoupment_due"]  # pays as much as before: nothing parked
    totals = (await ledger(remittance, ledger_id))["totals"]
    assert (D(totals["charge"]), D(totals["payer_paid"]), D(totals["balance"])) == (D("1200.00"), paid, patient)

    # voided: the reversal alone, the payment taken back parked (PLB WO) for a later check to recover
    void = sent_again(original, "8", pccn)
    await send(sandbox, [void], "SBX01", 64)
    [voided] = await cycle(sandbox, remittance)
    [reversal] = clps(voided)
    assert reversal[:5] == [pcn, "22", "-1200", x12_amount(-paid), x12_amount(-patient)]
    assert f"*WO:{pcn}*{x12_amount(-paid)}~" in voided and "BPR*H*0*C*NON" in voided
    assert await row(sandbox, original) == {"status": "voided", "kept": False, "paid_for": False,
                                            "recoupment_due": paid}
    totals = (await ledger(remittance, ledger_id))["totals"]
    assert (D(totals["charge"]), D(totals["payer_paid"]), D(totals["balance"])) == (0, 0, 0)
    assert await cycle(sandbox, remittance) == []  # nothing more to say about it

    # the next check to the provider takes the voided payment back (PLB WO, positive), as much as it pays
    newcomer = claim_for("M30009", seed=19)
    await registered(remittance, newcomer, "SBX01")
    await send(sandbox, [newcomer], "SBX01", 65)
    [later] = await cycle(sandbox, remittance)
    [new_clp] = clps(later)
    taken = min(paid, D(new_clp[3]))
    assert f"*WO:{pcn}*{x12_amount(taken)}~" in later  # never more than the check pays: the rest stays due
    assert (await row(sandbox, original))["recoupment_due"] == (paid - taken or None)
    wo = [D(e["amount"]) for e in (await ledger(remittance, ledger_id))["entries"]
          if e["kind"] == "provider_adjustment" and e["reason_code"] == "WO"]
    assert sorted(wo) == [-paid, taken]  # parked with the void, recovered: both on the claim's ledger


async def test_a_replacement_or_void_of_a_claim_never_remitted(apis):
    sandbox, _ = apis
    replaced, voided = mri_claim("COINS30002", seed=12), mri_claim("COINS30003", seed=13)
    await send(sandbox, [replaced, voided], "SBX01", 71)
    # both sent again before the payer adjudicated them: nothing of theirs to take back
    await send(sandbox, [sent_again(replaced, "7", "SBXREF1", prior_authorization="AUTH1"),
                         sent_again(voided, "8", "SBXREF2")], "SBX01", 72)
    [era] = await cycle(sandbox)
    [clp] = clps(era)  # the 7 paid as a first payment; the void answered by nothing
    assert (clp[0], clp[1], clp[8]) == (patient_control_number(replaced.claim_id), "1", "7")
    assert "*22*" not in era
    assert (await row(sandbox, replaced))["status"] == "remitted"
    assert await row(sandbox, voided) == {"status": "voided", "kept": False, "paid_for": False, "recoupment_due": None}
    assert await cycle(sandbox) == []


async def test_a_replacement_before_the_payers_own_reprocessing_settles_it(apis):
    """A member marked reprocess is first paid at the superseded rates; a replacement arriving before the payer's
    reprocessing reverses that payment and pays at the right rates, and no reprocessing follows."""
    sandbox, remittance = apis
    claim = claim_for("REPRO30004", seed=14)
    ledger_id = await registered(remittance, claim, "SBX01")
    await send(sandbox, [claim], "SBX01", 81)
    [first] = await cycle(sandbox, remittance)
    [clp] = clps(first)
    first_paid, pccn = clp[3], clp[6]
    await send(sandbox, [sent_again(claim, "7", pccn)], "SBX01", 82)
    [replaced] = await cycle(sandbox, remittance)
    reversal, anew = clps(replaced)
    assert (reversal[1], reversal[3], anew[1]) == ("22", x12_amount(-D(first_paid)), "1")
    assert D(anew[3]) < D(first_paid)  # the right rates, and no interest with it
    assert f"*WO:{patient_control_number(claim.claim_id)}*-" in replaced
    assert await sandbox.scalar("SELECT reprocess_at FROM payer_claims WHERE claim_id = :id",
                                id=payer_claim(claim)) is None
    sandbox.clock.advance(timedelta(seconds=5))
    assert await cycle(sandbox, remittance) == []  # the reprocessing it would have had is not sent
    totals = (await ledger(remittance, ledger_id))["totals"]
    assert D(totals["payer_paid"]) == D(anew[3]) and D(totals["balance"]) == 0


async def test_a_replacement_of_a_late_payment_carries_no_interest(apis):
    sandbox, _ = apis
    claim = claim_for("LATE30005", seed=15)
    await send(sandbox, [claim], "SBX01", 91)
    [first] = await cycle(sandbox)
    assert "AMT*I*" in first and "*L6:" in first  # paid late: interest with the first payment
    [clp] = clps(first)
    await send(sandbox, [sent_again(claim, "7", clp[6])], "SBX01", 92)
    [replaced] = await cycle(sandbox)
    reversal, anew = clps(replaced)
    assert (reversal[1], anew[1], anew[3]) == ("22", "1", clp[3])  # the same payment again, without interest
    assert "AMT*I*" not in replaced and "*L6" not in replaced
    assert (await row(sandbox, claim))["status"] == "replaced"
