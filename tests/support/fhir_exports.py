"""Patient history exports as EHRs send them (FHIR R4 transaction Bundles, Synthea-like): one patient, several
Coverage resources without `order`, and per encounter an Encounter, its Conditions and Procedures, a Claim
naming its coverage in `insurance` (sequence, focal), plus the bulk no claim reads (Observations, an
ExplanationOfBenefit). Each encounter has a shape with a known outcome, for tests, the demo and the benchmark.
Deterministic for a given seed.
"""

from __future__ import annotations

import random
import uuid
from decimal import Decimal
from typing import Any

from tests.support.encounters import (CPT_SYSTEM, EXT, GOOD_NPI, ICD10_SYSTEM, NPI_SYSTEM, RENDERING_NPI,
                                      SECONDARY_PAYER, generate)

# shape -> the encounter's expected status at charges
SHAPES = {
    "focal": "captured",  # Claim.insurance: the focal entry (sequence 1) is the primary, sequence 2 the secondary
    "focal_second": "captured",  # the focal entry has sequence 2: focal wins over sequence
    "self_pay": "self_pay",  # the Claim's coverage is paid by the Patient
    "no_subscriber": "held",  # the focal Coverage has no member id: completeness review
    "ambiguous": "held",  # no Claim.insurance, several active coverages without order: the front desk picks
    "bad_code": "rejected",  # a Procedure whose CPT code is not 5 characters: this encounter alone is rejected
}
PATIENT, ORG, PRACTITIONER = "urn:uuid:patient", "urn:uuid:billing-org", "urn:uuid:rendering-practitioner"
COVERAGE = {"primary": "urn:uuid:coverage-primary", "supplement": "urn:uuid:coverage-supplement",
            "self": "urn:uuid:coverage-self", "no_subscriber": "urn:uuid:coverage-no-subscriber"}
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"


def patient_export(n: int, *, shapes: tuple[str, ...] = ("focal",), seed: int = 11, run_id: str | None = None,
                   source_system: str = "ehr-export", filler: int = 0,
                   bundle_type: str = "transaction") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """(bundle, [(source_encounter_id, shape)...]): encounter i has shape shapes[i % len(shapes)]; `filler`
    Observations per encounter (about 1 KB each) plus one ExplanationOfBenefit make the export realistic in size."""
    rnd = random.Random(seed)
    run_id = run_id or uuid.UUID(int=rnd.getrandbits(128)).hex[:8]
    bodies = [g.body for g in generate(n, seed=seed, run_id=run_id, source_system=source_system, scenarios=["paid"])]
    patient = bodies[0]["patient"]
    entries = [_entry(PATIENT, _patient(patient)), _entry(ORG, _organization()), _entry(PRACTITIONER, _practitioner()),
               *_coverages(rnd)]
    expected = []
    for i, body in enumerate(bodies):
        shape = shapes[i % len(shapes)]
        expected.append((body["source_encounter_id"], shape))
        entries += _visit(i, body, shape, filler, rnd)
    for entry in entries:
        entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}
    return {"resourceType": "Bundle", "type": bundle_type, "entry": entries}, expected


def _entry(full_url: str, resource: dict) -> dict:
    return {"fullUrl": full_url, "resource": resource}


def _patient(p: dict) -> dict:
    return {"resourceType": "Patient", "name": [{"family": p["last_name"], "given": [p["first_name"]]}],
            "gender": {"M": "male", "F": "female"}[p["sex"]], "birthDate": p["birth_date"],
            "address": [{"line": [p["address"]["line1"]], "city": p["address"]["city"],
                         "state": p["address"]["state"], "postalCode": p["address"]["postal_code"]}]}


def _organization() -> dict:
    return {"resourceType": "Organization", "name": "Demo Family Practice",
            "identifier": [{"system": NPI_SYSTEM, "value": GOOD_NPI}]}


def _practitioner() -> dict:
    return {"resourceType": "Practitioner", "name": [{"family": "Demo", "given": ["Dana"]}],
            "identifier": [{"system": NPI_SYSTEM, "value": RENDERING_NPI}]}


def _coverages(rnd: random.Random) -> list[dict]:
    """Four Coverage resources, none with `order`: the encounters' Claims say which one pays."""
    def coverage(payer: tuple[str, str] | None, member: str | None, **extra: Any) -> dict:
        resource = {"resourceType": "Coverage", "status": "active", "beneficiary": {"reference": PATIENT},
                    "relationship": {"coding": [{"code": "self"}]}, **extra}
        if payer is not None:
            resource["payor"] = [{"identifier": {"value": payer[0]}, "display": payer[1]}]
        if member is not None:
            resource["subscriberId"] = member
        return resource

    return [
        _entry(COVERAGE["primary"], coverage(("SBX01", "Sandbox Health Plan"), f"M{rnd.randint(10**7, 10**8 - 1)}")),
        _entry(COVERAGE["supplement"], coverage(SECONDARY_PAYER, f"SUPP{rnd.randint(10**7, 10**8 - 1)}")),
        _entry(COVERAGE["self"], coverage(None, None, payor=[{"reference": PATIENT}],
                                          type={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                            "coverage-selfpay", "code": "pay"}]})),
        _entry(COVERAGE["no_subscriber"], coverage(("SBX01", "Sandbox Health Plan"), None)),
    ]


def _insurance(shape: str) -> list[dict]:
    def ins(sequence: int, focal: bool, coverage: str) -> dict:
        return {"sequence": sequence, "focal": focal, "coverage": {"reference": COVERAGE[coverage]}}

    return {
        "focal": [ins(1, True, "primary"), ins(2, False, "supplement")],
        "focal_second": [ins(1, False, "supplement"), ins(2, True, "primary")],
        "self_pay": [ins(1, True, "self")],
        "no_subscriber": [ins(1, True, "no_subscriber")],
        "bad_code": [ins(1, True, "primary")],
    }.get(shape, [])


def _visit(i: int, body: dict, shape: str, filler: int, rnd: random.Random) -> list[dict]:
    enc = f"urn:uuid:encounter-{i}"
    ref = {"reference": enc}
    out = [_entry(enc, {
        "resourceType": "Encounter", "status": "finished",
        "identifier": [{"system": "urn:ehr-export:encounter", "value": body["source_encounter_id"]}],
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": SNOMED, "code": "185349003", "display": "Encounter for check up"}]}],
        "subject": {"reference": PATIENT}, "participant": [{"individual": {"reference": PRACTITIONER}}],
        "period": {"start": f"{body['service_date']}T09:00:00-05:00", "end": f"{body['service_date']}T09:30:00-05:00"},
        "serviceProvider": {"reference": ORG}})]
    for k, dx in enumerate(body["diagnoses"]):
        out.append(_entry(f"urn:uuid:condition-{i}-{k}", {
            "resourceType": "Condition", "subject": {"reference": PATIENT}, "encounter": ref,
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": ICD10_SYSTEM, "code": dx}]}, "recordedDate": body["service_date"]}))
    items = []
    for k, line in enumerate(body["lines"]):
        code = "ABC" if shape == "bad_code" and k == 0 else line["procedure_code"]
        out.append(_entry(f"urn:uuid:procedure-{i}-{k}", {
            "resourceType": "Procedure", "status": "completed", "subject": {"reference": PATIENT}, "encounter": ref,
            "extension": [{"url": f"{EXT}/charge-amount",
                           "valueMoney": {"value": float(Decimal(line["charge"])), "currency": "USD"}}],
            "code": {"coding": [{"system": CPT_SYSTEM, "code": code}]}, "performedDateTime": body["service_date"]}))
        items.append({"sequence": k + 1, "productOrService": {"coding": [{"system": CPT_SYSTEM, "code": code}]},
                      "encounter": [ref], "net": {"value": float(Decimal(line["charge"])), "currency": "USD"}})
    claim = f"urn:uuid:claim-{i}"
    out.append(_entry(claim, {
        "resourceType": "Claim", "status": "active", "use": "claim", "created": body["service_date"],
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        "patient": {"reference": PATIENT}, "provider": {"reference": ORG},
        "priority": {"coding": [{"code": "normal"}]}, "insurance": _insurance(shape), "item": items,
        "total": {"value": float(sum(Decimal(line["charge"]) for line in body["lines"])), "currency": "USD"}}))
    for k in range(filler):
        out.append(_entry(f"urn:uuid:observation-{i}-{k}", _observation(ref, body["service_date"], rnd)))
    if filler:
        out.append(_entry(f"urn:uuid:eob-{i}", {
            "resourceType": "ExplanationOfBenefit", "status": "active", "use": "claim", "outcome": "complete",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
            "patient": {"reference": PATIENT}, "created": body["service_date"], "insurer": {"display": "Sandbox"},
            "provider": {"reference": ORG}, "claim": {"reference": claim},
            "insurance": [{"focal": True, "coverage": {"reference": COVERAGE["primary"]}}],
            "item": [{"sequence": it["sequence"], "productOrService": it["productOrService"], "encounter": [ref],
                      "net": it["net"], "adjudication": [{"category": {"coding": [{"code": "submitted"}]},
                                                          "amount": it["net"]}]} for it in items]}))
    return out


def _observation(encounter: dict, day: str, rnd: random.Random) -> dict:
    value = round(rnd.uniform(50, 200), 1)
    return {"resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "vital-signs", "display": "vital-signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}], "text": "Heart rate"},
            "subject": {"reference": PATIENT}, "encounter": encounter, "effectiveDateTime": f"{day}T09:05:00-05:00",
            "issued": f"{day}T09:05:00.000-05:00",
            "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
            "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                            "code": "N", "display": "Normal"}]}],
            "note": [{"text": "Measured at rest, seated, after five minutes; repeated once with the same result."}],
            "referenceRange": [{"low": {"value": 60, "unit": "/min"}, "high": {"value": 100, "unit": "/min"},
                                "text": "normal adult resting heart rate"}]}
