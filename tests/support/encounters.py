"""Generated encounters with known expected outcomes, for the demo, end-to-end tests and benchmark.

Each scenario maps to how the sandbox payer (services/sandbox fixtures) and the pipeline's edits treat
it, so a test can assert every claim's final state. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

FIRST = ["Ava", "Liam", "Mia", "Noah", "Zoe", "Eli", "Ivy", "Leo", "Ada", "Max", "Nia", "Kai"]
LAST = ["Rivera", "Chen", "Okafor", "Novak", "Haddad", "Larsen", "Moreau", "Sato", "Kowalski", "Diaz"]
STATES = [("MA", "02110", "Boston"), ("IL", "62704", "Springfield"), ("TX", "73301", "Austin"), ("WA", "98101", "Seattle")]
DX = ["J069", "I10", "E119", "M5450", "R509", "Z0000", "K219", "F419"]  # billable in ICD-10-CM FY2026
VISITS = [("99213", "150.00"), ("99214", "210.00"), ("99203", "180.00")]
ADDONS = [("36415", "20.00"), ("85025", "35.00"), ("80053", "55.00"), ("93000", "60.00"), ("97110", "75.00")]
GOOD_NPI = "1234567893"  # passes the NPI Luhn check
BAD_NPI = "1234567890"
NOT_ENROLLED_NPI = "1346053105"  # valid check digit; the sandbox payer has no enrollment for it
RENDERING_NPI = "1982749354"

_PRACTICE_ADDRESS = {"line1": "100 Main St", "city": "Springfield", "state": "IL", "postal_code": "627011234"}
# What the billing company enrolled for the demo practice (charges' provider profiles): EHRs send the
# NPI, the 837P also needs the tax id, the address with ZIP+4 and the taxonomy.
PROVIDER_PROFILES = [
    *({"npi": npi, "name": "Demo Family Practice", "tax_id": "123456789", "taxonomy": "207Q00000X",
       "address": _PRACTICE_ADDRESS} for npi in (GOOD_NPI, BAD_NPI, NOT_ENROLLED_NPI)),
    {"npi": RENDERING_NPI, "name": "Dana Demo", "taxonomy": "207Q00000X"},
]

# scenario -> (weight, expected final state)
SCENARIOS: dict[str, tuple[int, str]] = {
    "paid": (40, "paid"),
    "copay": (12, "patient_balance"),
    "deductible": (10, "patient_balance"),
    "coinsurance": (8, "patient_balance"),
    "terminated": (4, "eligibility_hold"),  # the 271 says inactive: front desk, not a denial
    "unknown_member": (3, "eligibility_hold"),
    "no_auth": (3, "auth_hold"),  # MRI without prior authorization: held before it is billed
    "with_auth": (3, "paid"),
    "non_covered": (4, "denied"),  # a service the plan does not cover at all (CO-96)
    "non_covered_line": (6, "partially_paid"),
    "bad_npi": (4, "review_hold"),
    "no_diagnosis": (3, "incomplete"),
    "invalid_diagnosis": (3, "coding_hold"),
    "ncci_conflict": (2, "coding_hold"),  # an NCCI pair with modifier indicator 0 (deploy/reference-data)
    "unknown_payer": (2, "eligibility_hold"),  # the 271 says provider not on file: caught before billing
    "not_enrolled": (3, "rejected"),  # billing NPI not enrolled with the payer: 277CA rejection
    # What real payers send after (or besides) a first payment. The final state is the one the claim keeps
    # whether or not the later 835 has come yet (deploy/demo.py waits for those and shows them):
    # copay + coinsurance at the primary; the supplement (SBX03) pays the coinsurance, the copay stays
    "secondary": (3, "patient_balance"),
    "reprocessed": (3, "paid"),  # paid from superseded rates, later reversed and corrected (overpayment: PLB WO)
    "late_paid": (3, "paid"),  # paid after the prompt-pay deadline: interest (AMT*I, PLB L6)
    "underpaid": (3, "paid"),  # 99215 at SBX01's rate; the demo's contract expects more (PaymentUnderpaid)
}
MEMBER_PREFIX = {"paid": "M", "copay": "COPAY", "deductible": "HDHP", "coinsurance": "COINS", "terminated": "TERM",
                 "unknown_member": "NOTFOUND", "secondary": "COB", "reprocessed": "REPRO", "late_paid": "LATE"}
SECONDARY_PAYER = ("SBX03", "Sandbox Medigap Supplement")  # the sandbox's supplemental plan
UNDERPAID_CODE, UNDERPAID_CHARGE = "99215", "280.00"  # SBX01 pays 175.00 for it (sandbox fixtures)


@dataclass(frozen=True)
class GeneratedEncounter:
    scenario: str
    expected_final_state: str
    body: dict[str, Any]  # the OpenRCM JSON encounter (EncounterSubmitted data)


def generate(n: int, *, seed: int = 7, source_system: str = "demo-ehr", run_id: str | None = None,
             scenarios: list[str] | None = None) -> list[GeneratedEncounter]:
    rnd = random.Random(seed)
    run_id = run_id or uuid.UUID(int=rnd.getrandbits(128)).hex[:8]
    names = scenarios or list(SCENARIOS)
    weights = [SCENARIOS[s][0] for s in names]
    out = []
    for i in range(n):
        scenario = names[i % len(names)] if i < len(names) else rnd.choices(names, weights)[0]
        # the patient and visit come from (seed, source system): a batch sent again under a new source
        # system bills other services, not duplicates the scrubber would rightly stop (SCR034)
        visit_rnd = random.Random(f"{seed}/{source_system}/{i}")
        out.append(GeneratedEncounter(scenario, SCENARIOS[scenario][1],
                                      _encounter(visit_rnd, scenario, f"{run_id}-{i:06d}", source_system)))
    return out


def _encounter(rnd: random.Random, scenario: str, source_id: str, source_system: str) -> dict[str, Any]:
    state, zip_code, city = rnd.choice(STATES)
    visit = rnd.choice(VISITS)
    lines = [visit] + rnd.sample(ADDONS, rnd.randint(0, 2))
    if scenario in ("no_auth", "with_auth"):
        lines = [("72148", "950.00")]
    if scenario == "non_covered":
        lines = [("97810", "85.00")]
    if scenario == "ncci_conflict":
        lines = [("11111", "300.00"), ("33333", "120.00")]  # invented codes of the PTP fixture
    if scenario == "non_covered_line":
        lines = [visit, ("97810", "85.00")]
    if scenario == "underpaid":
        lines = [(UNDERPAID_CODE, UNDERPAID_CHARGE)]
    diagnoses = [] if scenario == "no_diagnosis" else rnd.sample(DX, rnd.randint(1, 3))
    if scenario == "invalid_diagnosis":
        diagnoses = ["ZZZ9"]  # not ICD-10-CM: the coder queue
    payer = ("ZZZ99", "Unknown Payer") if scenario == "unknown_payer" else rnd.choice([("SBX01", "Sandbox Health Plan"), ("SBX02", "Sandbox Medicare Advantage")])
    if scenario in ("secondary", "underpaid"):
        payer = ("SBX01", "Sandbox Health Plan")  # the underpaid code's contract is with SBX01
    member = f"{MEMBER_PREFIX.get(scenario, 'M')}{rnd.randint(10**7, 10**8 - 1)}"
    secondary = {}
    if scenario == "secondary":
        secondary = {"secondary_coverage": {"payer_id": SECONDARY_PAYER[0], "payer_name": SECONDARY_PAYER[1],
                                            "member_id": f"SUPP{rnd.randint(10**7, 10**8 - 1)}", "relationship": "self"}}
    return {
        "source_system": source_system,
        "source_encounter_id": source_id,
        # inside FY2026 (to 2026-09-30): the ICD-10-CM release simple-icd-10-cm ships
        "service_date": (date(2026, 9, 30) - timedelta(days=rnd.randint(0, 60))).isoformat(),
        "place_of_service": "11",
        "patient": {
            "first_name": rnd.choice(FIRST), "last_name": rnd.choice(LAST),
            "birth_date": (date(1940, 1, 1) + timedelta(days=rnd.randint(0, 30000))).isoformat(),
            "sex": rnd.choice("MF"),
            "address": {"line1": f"{rnd.randint(1, 999)} Main St", "city": city, "state": state, "postal_code": zip_code},
        },
        "coverage": {"payer_id": payer[0], "payer_name": payer[1], "member_id": member, "relationship": "self"},
        "billing_provider": {"npi": {"bad_npi": BAD_NPI, "not_enrolled": NOT_ENROLLED_NPI}.get(scenario, GOOD_NPI),
                             "name": "Demo Family Practice",
                             "tax_id": "123456789"},
        "rendering_provider": {"npi": RENDERING_NPI, "name": "Dana Demo"},
        "diagnoses": diagnoses,
        "lines": [{"procedure_code": code, "charge": charge, "units": "1",
                   "diagnosis_pointers": [1] if diagnoses else [1]} for code, charge in lines],
        **({"prior_authorization": f"AUTH{rnd.randint(10**6, 10**7 - 1)}"} if scenario == "with_auth" else {}),
        **secondary,
    }


CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
EXT = "https://openrcm.org/fhir/StructureDefinition"


def to_fhir_bundle(body: dict[str, Any]) -> dict[str, Any]:
    """The same encounter as a FHIR R4 Bundle (Patient, Coverage, Encounter, Condition, Procedure)."""
    p, cov = body["patient"], body["coverage"]
    entries: list[dict[str, Any]] = [
        {"fullUrl": "urn:uuid:patient", "resource": {
            "resourceType": "Patient", "id": "patient",
            "name": [{"family": p["last_name"], "given": [p["first_name"]]}],
            "gender": {"M": "male", "F": "female"}.get(p["sex"], "unknown"), "birthDate": p["birth_date"],
            "address": [{"line": [p["address"]["line1"]], "city": p["address"]["city"], "state": p["address"]["state"],
                         "postalCode": p["address"]["postal_code"]}]}},
        {"fullUrl": "urn:uuid:org", "resource": {
            "resourceType": "Organization", "id": "org", "name": body["billing_provider"]["name"],
            "identifier": [{"system": NPI_SYSTEM, "value": body["billing_provider"]["npi"]}]}},
        {"fullUrl": "urn:uuid:prac", "resource": {
            "resourceType": "Practitioner", "id": "prac", "name": [{"family": "Demo", "given": ["Dana"]}],
            "identifier": [{"system": NPI_SYSTEM, "value": body["rendering_provider"]["npi"]}]}},
        *({"fullUrl": "urn:uuid:coverage" if order == 1 else f"urn:uuid:coverage-{order}", "resource": {
            "resourceType": "Coverage", "status": "active", "subscriberId": c["member_id"],
            "beneficiary": {"reference": "urn:uuid:patient"}, "relationship": {"coding": [{"code": "self"}]},
            # Coverage.order tells the primary (1) from the secondary (2) when the patient has both
            **({"order": order} if body.get("secondary_coverage") else {}),
            "payor": [{"identifier": {"value": c["payer_id"]}, "display": c["payer_name"]}]}}
          for order, c in enumerate([cov, *([body["secondary_coverage"]] if body.get("secondary_coverage") else [])],
                                    start=1)),
        {"fullUrl": "urn:uuid:encounter", "resource": {
            "resourceType": "Encounter", "id": "encounter", "status": "finished",
            "identifier": [{"system": f"urn:{body['source_system']}:encounter", "value": body["source_encounter_id"]}],
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": "urn:uuid:patient"},
            "participant": [{"individual": {"reference": "urn:uuid:prac"}}],
            "period": {"start": body["service_date"]},
            "serviceProvider": {"reference": "urn:uuid:org"}}},
    ]
    for i, dx in enumerate(body["diagnoses"]):
        entries.append({"fullUrl": f"urn:uuid:condition-{i}", "resource": {
            "resourceType": "Condition", "subject": {"reference": "urn:uuid:patient"},
            "code": {"coding": [{"system": ICD10_SYSTEM, "code": dx}]}}})
    for i, line in enumerate(body["lines"]):
        entries.append({"fullUrl": f"urn:uuid:procedure-{i}", "resource": {
            "resourceType": "Procedure", "status": "completed", "subject": {"reference": "urn:uuid:patient"},
            "extension": [{"url": f"{EXT}/charge-amount", "valueMoney": {"value": float(Decimal(line["charge"])), "currency": "USD"}}],
            "code": {"coding": [{"system": CPT_SYSTEM, "code": line["procedure_code"]}]}}})
    if body.get("prior_authorization"):
        entries.append({"fullUrl": "urn:uuid:claim", "resource": {
            "resourceType": "Claim", "status": "active", "use": "claim", "created": body["service_date"],
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
            "patient": {"reference": "urn:uuid:patient"}, "provider": {"reference": "urn:uuid:org"},
            "priority": {"coding": [{"code": "normal"}]},
            "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "urn:uuid:coverage"},
                           "preAuthRef": [body["prior_authorization"]]}]}})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def intake_record(body: dict[str, Any], *, tenant_id: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of an EHR's record on the intake topic: a CloudEvent, keyed by a new id."""
    from rcm_contracts.envelope import new_envelope
    from rcm_contracts.events import EncounterSubmitted

    key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/{body['source_system']}/{body['source_encounter_id']}"))
    env = new_envelope(EncounterSubmitted.model_validate(body), service="intake", tenant_id=tenant_id, key=key,
                       subject=f"encounter/{key}")
    return key.encode(), env.to_bytes(), env.headers()


def to_hl7_dft(body: dict[str, Any]) -> str:
    """The same encounter as an HL7 v2.5.1 DFT^P03 (CR separators), codes in FT1-25, amounts in FT1-11."""
    p, cov = body["patient"], body["coverage"]
    dos = body["service_date"].replace("-", "")
    addr = p["address"]
    bill, rend = body["billing_provider"], body["rendering_provider"]
    dx = "~".join(f"{d}^^I10" for d in body["diagnoses"])
    segs = [
        f"MSH|^~\\&|{body['source_system']}|DEMO^{bill['npi']}^NPI|OPENRCM|OPENRCM|{dos}120000||DFT^P03^DFT_P03|"
        f"{body['source_encounter_id']}|P|2.5.1",
        f"EVN|P03|{dos}120000",
        f"PID|1||MRN-1^^^DEMO^MR||{p['last_name']}^{p['first_name']}||{p['birth_date'].replace('-', '')}|{p['sex']}|||"
        f"{addr['line1']}^^{addr['city']}^{addr['state']}^{addr['postal_code']}^USA",
    ]
    pv1 = [""] * 20  # PV1-0 .. PV1-19
    pv1[0:4] = ["PV1", "1", "O", "DEMO^1"]
    pv1[7], pv1[19] = f"{rend['npi']}^Demo^Dana^^^^^^^^^^NPI", body["source_encounter_id"]
    segs.append("|".join(pv1))
    for i, line in enumerate(body["lines"], start=1):
        mods = "~".join(line.get("modifiers", []))
        segs.append(f"FT1|{i}|T-{i}||{dos}||CG|{line['procedure_code']}^^CPT|||{line.get('units', '1')}|{line['charge']}"
                    f"||||||||{dx}|{rend['npi']}^Demo^Dana^^^^^^^^^^NPI|||||{line['procedure_code']}^^CPT|{mods}")
    in1 = [""] * 37  # IN1-0 .. IN1-36
    in1[0:5] = ["IN1", "1", "PLAN", cov["payer_id"], cov["payer_name"]]
    in1[17], in1[36] = "SEL", cov["member_id"]
    segs.append("|".join(in1))
    return "\r".join(segs) + "\r"
