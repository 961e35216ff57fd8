"""Every event that crosses a service boundary, v1. One class per event type."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from rcm_contracts.base import Contract, Event
from rcm_contracts.claim import (
    Adjustment, Claim, Code, Coverage, LineCodeSystem, Money, Person, Provider, ServiceLine, SourceCode,
)
from rcm_contracts.dates import IsoDate, IsoDateTime


# ---------------------------------------------------------------- intake (EHR -> charges)
class EncounterLine(Contract):
    procedure_code: str = Field(min_length=1, max_length=18)
    modifiers: list[str] = Field(default_factory=list, max_length=4)
    units: Decimal = Field(default=Decimal(1), gt=0)
    charge: Money | None = Field(default=None, ge=0)  # None: priced from the tenant's chargemaster
    diagnosis_pointers: list[int] = Field(default_factory=lambda: [1], min_length=1, max_length=4)
    code_system: LineCodeSystem = "cpt-hcpcs"  # 2.2: SNOMED CT / CVX lines go to the coder queue


class MissingItem(Contract):
    field: str
    reason: str


class EncounterSubmitted(Event):
    """The project's own encounter JSON, as EHRs publish it on rcm.intake.encounters (and POST it).

    v2: an encounter may arrive incomplete (no date of service, billing provider or line charge);
    charges holds it in completeness review instead of rejecting it. v1 records are upcast.
    """

    SERVICE = "intake"
    NAME = "encounter-submitted"
    MAJOR = 2
    # 2.1: prior_authorization; 2.2: lines[].code_system, source_diagnoses; 2.3: coverage.insured; 2.4: coverage dates;
    # 2.5: secondary_coverage; 2.6: self_pay, intake_issues
    SCHEMA_MINOR = 6
    DATA_CLASS = "phi"
    PHI_FIELDS = ("patient", "coverage", "secondary_coverage")

    source_system: str = Field(min_length=1, max_length=64)
    source_encounter_id: str = Field(min_length=1, max_length=128)
    service_date: IsoDate | None = None
    place_of_service: str = Field(default="11", pattern=r"^[0-9]{2}$")
    patient: Person
    coverage: Coverage | None = None
    billing_provider: Provider | None = None
    rendering_provider: Provider | None = None
    referring_provider: Provider | None = None
    diagnoses: list[str] = Field(default_factory=list, max_length=12)
    source_diagnoses: list[SourceCode] = Field(default_factory=list, max_length=50)
    lines: list[EncounterLine] = Field(min_length=1, max_length=50)
    prior_authorization: str | None = Field(default=None, max_length=50)
    secondary_coverage: Coverage | None = None  # 2.5: the coverage that pays after `coverage`
    # 2.6: the patient pays (no payer is billed): no 270 and no 837, the charges go straight to patient billing
    self_pay: bool = False
    # 2.6: what the intake mapper found that a person must resolve (a Coverage without a member id, several
    # coverages and no rule choosing one, an invalid provider id...): charges holds the encounter in completeness
    # review with these until a fix supplies the field
    intake_issues: list[MissingItem] = Field(default_factory=list, max_length=50)


class EncounterLineV1(Contract):
    procedure_code: str = Field(min_length=1, max_length=16)
    modifiers: list[str] = Field(default_factory=list, max_length=4)
    units: Decimal = Field(default=Decimal(1), gt=0)
    charge: Money = Field(ge=0)
    diagnosis_pointers: list[int] = Field(default_factory=lambda: [1], min_length=1, max_length=4)


class EncounterSubmittedV1(Event):
    """Retired major, kept for its schema and golden examples; readers upcast it to v2."""

    SERVICE = "intake"
    NAME = "encounter-submitted"
    MAJOR = 1
    DATA_CLASS = "phi"
    PHI_FIELDS = ("patient", "coverage")

    source_system: str = Field(min_length=1, max_length=64)
    source_encounter_id: str = Field(min_length=1, max_length=128)
    service_date: IsoDate
    place_of_service: str = Field(default="11", pattern=r"^[0-9]{2}$")
    patient: Person
    coverage: Coverage | None = None
    billing_provider: Provider
    rendering_provider: Provider | None = None
    referring_provider: Provider | None = None
    diagnoses: list[str] = Field(default_factory=list, max_length=12)
    lines: list[EncounterLineV1] = Field(min_length=1, max_length=50)


class AppointmentScheduled(Event):
    """An EHR's scheduling event on the intake topic: eligibility verifies the patient's registered
    coverage before the visit (the patient must be registered with eligibility under patient_id)."""

    SERVICE = "intake"
    NAME = "appointment-scheduled"
    DATA_CLASS = "phi"
    PHI_FIELDS = ("patient_id",)

    source_system: str = Field(min_length=1, max_length=64)
    source_appointment_id: str = Field(min_length=1, max_length=128)
    patient_id: str = Field(min_length=1, max_length=64)  # the practice's patient id (MRN) used at registration
    scheduled_date: IsoDate
    provider: Provider
    procedure_codes: list[str] = Field(default_factory=lambda: ["99213"], min_length=1, max_length=20)
    place_of_service: str = Field(default="11", pattern=r"^[0-9]{2}$")


# ---------------------------------------------------------------- charges
class EncounterCaptured(Event):
    SERVICE = "charges"
    NAME = "encounter-captured"
    # 1.1: claim.prior_authorization; 1.2: frequency, supervisor, COB, code systems; 1.3: coverage.insured; 1.4: coverage dates;
    # 1.5: claim.secondary_coverage
    SCHEMA_MINOR = 5
    DATA_CLASS = "phi"
    PHI_FIELDS = ("claim",)

    claim: Claim
    intake_channel: Literal["fhir", "json", "kafka", "hl7v2"]


class SelfPayEncounterCaptured(Event):
    """A complete self-pay encounter (EncounterSubmitted.self_pay): the patient pays, no payer is billed. It goes
    straight to patient billing (no 270, no 837): eligibility and the payer pipeline never see it. `claim` is the
    priced claim the patient's statement itemizes (per line); a coverage on file stays in it for the record (the
    patient declined to bill insurance) and is never billed from this event."""

    SERVICE = "charges"
    NAME = "self-pay-encounter-captured"
    DATA_CLASS = "phi"
    PHI_FIELDS = ("claim",)

    claim: Claim
    intake_channel: Literal["fhir", "json", "kafka", "hl7v2"]


class EncounterHeld(Event):
    """The encounter lacks what a claim needs; it waits in charges' completeness review."""

    SERVICE = "charges"
    NAME = "encounter-held"
    DATA_CLASS = "internal"

    claim_id: uuid.UUID
    source_system: str
    source_encounter_id: str
    missing: list[MissingItem] = Field(min_length=1)


class RegistrationCoverage(Contract):
    """A coverage as a registration feed (HL7 v2 ADT IN1) names it; eligibility validates it before storing."""

    payer_id: str = Field(min_length=1, max_length=80)
    payer_name: str = Field(min_length=1, max_length=60)
    member_id: str = Field(min_length=1, max_length=80)
    group_number: str | None = Field(default=None, max_length=50)
    relationship: Literal["self", "spouse", "child", "other"] = "self"
    subscriber: Person | None = None  # None when the patient is the subscriber
    order_of_benefits: int = Field(default=1, ge=1, le=3)  # 1 primary, 2 secondary, 3 tertiary
    effective_from: IsoDate
    effective_to: IsoDate | None = None


class PatientRegistrationReceived(Event):
    """A patient's registration (or its update) that arrived on charges' HL7 v2 interface (ADT^A04 / ADT^A08 over
    MLLP), handed to eligibility, which keeps registrations: it validates and stores it under `patient_id` (the MRN).
    `coverages` empty: the message carried no IN1, the coverages on file stay as they are."""

    SERVICE = "charges"
    NAME = "registration-received"
    DATA_CLASS = "phi"
    PHI_FIELDS = ("patient_id", "patient", "phone", "coverages")

    source_system: str = Field(min_length=1, max_length=64)
    message_control_id: str = Field(min_length=1, max_length=199)  # MSH-10 of the ADT message
    trigger: Literal["A04", "A08"]
    patient_id: str = Field(min_length=1, max_length=64)
    patient: Person
    phone: str | None = Field(default=None, max_length=30)
    coverages: list[RegistrationCoverage] = Field(default_factory=list, max_length=3)


# ---------------------------------------------------------------- eligibility
class EligibilityResult(Contract):
    status: Literal["active", "inactive", "unknown"]
    checked_at: IsoDateTime
    payer_id: str | None = None
    plan_name: str | None = None
    reason: str | None = None
    # 1.1: what the payer's 271 said (absent when no inquiry was made, e.g. self-pay)
    source: Literal["payer", "cache", "none"] | None = None
    group_number: str | None = None
    deductible_remaining: Money | None = None
    copay: Money | None = None
    coinsurance_rate: Decimal | None = None
    authorization_required: bool | None = None


class CoverageVerified(Event):
    SERVICE = "eligibility"
    NAME = "coverage-verified"
    # 1.2: frequency, supervisor, COB, code systems; 1.3: coverage.insured; 1.4: coverage dates; 1.5: claim.secondary_coverage
    SCHEMA_MINOR = 5
    DATA_CLASS = "phi"
    PHI_FIELDS = ("claim",)

    claim: Claim
    eligibility: EligibilityResult


class EligibilityHeld(Event):
    """The claim waits at eligibility: coverage inactive or not found (front desk), or a prior
    authorization is required and missing (authorizations queue). Released with CoverageVerified."""

    SERVICE = "eligibility"
    NAME = "claim-held"
    DATA_CLASS = "internal"

    claim_id: uuid.UUID
    reason: Literal["coverage_inactive", "member_not_found", "payer_rejected", "authorization_required"]
    work_queue: Literal["front-desk", "authorizations"]
    edits: list["Edit"] = Field(default_factory=list)


# ---------------------------------------------------------------- coding / scrubber
class Edit(Contract):
    """A finding of a rule engine (coding or scrubber). error blocks, warning does not."""

    code: str
    severity: Literal["error", "warning"]
    message: str
    line_number: int | None = None
    field: str | None = None


class ClaimCoded(Event):
    SERVICE = "coding"
    NAME = "claim-coded"
    # 1.1: claim.prior_authorization; 1.2: frequency, supervisor, COB, code systems; 1.3: coverage.insured; 1.4: coverage dates;
    # 1.5: claim.secondary_coverage
    SCHEMA_MINOR = 5
    DATA_CLASS = "phi"
    PHI_FIELDS = ("claim",)

    claim: Claim
    status: Literal["coded", "needs_coder"]
    edits: list[Edit] = Field(default_factory=list)


class ClaimScrubbed(Event):
    SERVICE = "scrubber"
    NAME = "claim-scrubbed"
    # 1.1: claim.prior_authorization; 1.2: frequency, supervisor, COB, code systems; 1.3: coverage.insured; 1.4: coverage dates;
    # 1.5: claim.secondary_coverage; 1.6: resubmission_id
    SCHEMA_MINOR = 6
    DATA_CLASS = "phi"
    PHI_FIELDS = ("claim",)

    claim: Claim
    decision: Literal["clean", "review"]
    edits: list[Edit] = Field(default_factory=list)
    # 1.6: the denials request (ClaimResubmissionRequested.request_id) this claim answers: a corrected claim
    # (frequency 7) or a claim rebilled to another payer. Submission sends a claim it sent before again once per
    # request (a redelivery of the same request is not a second replacement).
    resubmission_id: uuid.UUID | None = None


# ---------------------------------------------------------------- submission
class ClaimSubmitted(Event):
    SERVICE = "submission"
    NAME = "claim-submitted"
    # 1.1: patient_control_number, frequency_code, attempt; 1.2: payer_responsibility, primary_claim_id, next_payer_id,
    # place_of_service
    SCHEMA_MINOR = 2
    DATA_CLASS = "internal"

    claim_id: uuid.UUID
    payer_id: str
    clearinghouse: str
    interchange_control_number: str
    total_charge: Money
    submitted_at: IsoDateTime
    # CLM01 as sent: 277CA (TRN02) and 835 (CLP01) name the claim by it
    patient_control_number: str | None = None
    frequency_code: Literal["1", "7", "8"] | None = None
    attempt: int | None = Field(default=None, ge=1)
    # 1.2, coordination of benefits. A secondary (S) or tertiary (T) claim names the claim it follows
    # (`primary_claim_id`): its payments post to that claim's ledger, and the submitter keys its events by it.
    # `next_payer_id`: the payer the claim goes on to when this one leaves the patient a share.
    payer_responsibility: Literal["P", "S", "T"] | None = None
    primary_claim_id: uuid.UUID | None = None
    next_payer_id: str | None = Field(default=None, max_length=80)
    # 1.2: CLM05-1 as sent: a payment is priced against the contract at the place of service (facility or not)
    place_of_service: str | None = Field(default=None, pattern=r"^[0-9]{2}$")


class ClaimAcknowledged(Event):
    """The clearinghouse's answer for one claim (999 + 277CA in X12 terms)."""

    SERVICE = "submission"
    NAME = "claim-acknowledged"
    SCHEMA_MINOR = 1  # 1.1: stage, first_pass
    DATA_CLASS = "internal"

    claim_id: uuid.UUID
    accepted: bool
    payer_claim_control_number: str | None = None
    status_code: str
    reason: str | None = None
    stage: Literal["999", "277CA"] | None = None
    first_pass: bool | None = None  # accepted on its first submission, never rejected before


class ClaimReturned(Event):
    """A claim goes back to the scrubber's review queue: it could not become a valid 837P (the
    implementation-guide check found problems before anything was sent), or the clearinghouse
    rejected it (999 or 277CA). The findings say what to fix."""

    SERVICE = "submission"
    NAME = "claim-returned"
    DATA_CLASS = "internal"

    claim_id: uuid.UUID
    stage: Literal["build", "validation", "999", "277CA"]
    findings: list[Edit] = Field(min_length=1)


class RemittanceReceived(Event):
    """An 835 that arrived on a clearinghouse connection submission polls (file drop or HTTP), for the tenant
    whose claims it pays (submission resolved it from the CLP01 patient control numbers it sent). remittance
    ingests `content` exactly as an upload to POST /v1/remittances/x12. The whole file travels in the event:
    its topic takes large records (rcm_contracts.topics.MAX_MESSAGE_BYTES); a file above submission's limit is
    quarantined there instead, for an operator to upload."""

    SERVICE = "submission"
    NAME = "remittance-received"
    DATA_CLASS = "phi"
    PHI_FIELDS = ("content",)

    clearinghouse: str = Field(min_length=1)
    file_name: str
    content: str = Field(min_length=1)  # the 835 as received, verbatim
    content_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    received_at: IsoDateTime


# ---------------------------------------------------------------- remittance
class PaidLine(Contract):
    """One service line as the payer adjudicated it (835 SVC with its CAS): what denials needs to see which
    procedure a payer denies with which CARC (claim-level adjustments do not say)."""

    line_number: int = Field(ge=1)  # 1-based position of the SVC in the claim payment
    procedure_code: str = Field(min_length=1, max_length=18)
    modifiers: list[str] = Field(default_factory=list, max_length=4)
    charge: Money
    paid: Money
    adjustments: list[Adjustment] = Field(default_factory=list)


class PaymentPosted(Event):
    SERVICE = "remittance"
    NAME = "payment-posted"
    # 1.1: claim_status_code, patient_responsibility_total; 1.2: awaiting_payer_id; 1.3: lines, payee_npi
    SCHEMA_MINOR = 3
    DATA_CLASS = "internal"

    claim_id: uuid.UUID
    remittance_id: uuid.UUID
    payer_id: str
    payer_claim_control_number: str
    total_charge: Money
    allowed_amount: Money
    paid_amount: Money
    patient_responsibility: Money
    adjustments: list[Adjustment] = Field(default_factory=list)
    outcome: Literal["paid", "partially_paid", "denied"]
    payment_date: IsoDate
    remark_codes: list[str] = Field(default_factory=list)
    # 1.1: the 835's CLP02 (1/19 primary, 2/20 secondary, 3/21 tertiary, 4 denied; 19-21 forwarded to another
    # payer) and the claim's running patient responsibility after this payment (the ledger's PR total, not
    # this payment's share: a consumer replaces what it holds instead of adding it).
    claim_status_code: str | None = None
    patient_responsibility_total: Money | None = None
    # 1.2: the claim goes on to this payer (secondary coverage on file) for the patient's share: patient billing
    # holds the balance until that payer answers instead of billing the patient now
    awaiting_payer_id: str | None = Field(default=None, max_length=80)
    # 1.3: the service lines with their own adjustments (835 SVC/CAS; empty when the remittance has none, e.g.
    # a JSON advice), and the payee's NPI (835 N1*PE with XX: the billing provider) for denial trends by provider
    lines: list[PaidLine] = Field(default_factory=list)
    payee_npi: str | None = Field(default=None, pattern=r"^[0-9]{10}$")


class PaymentReversed(Event):
    """A payer took back a payment it had posted (835 CLP02 22): its ledger entries are negated. Amounts are
    what was taken back (positive); `patient_responsibility_total` is the claim's running patient
    responsibility after the reversal (replace, do not add). A correction, when the payer sends one, follows
    as a PaymentPosted."""

    SERVICE = "remittance"
    NAME = "payment-reversed"
    DATA_CLASS = "internal"

    claim_id: uuid.UUID
    remittance_id: uuid.UUID  # the reversal's own id
    reversed_remittance_id: uuid.UUID  # the PaymentPosted.remittance_id it takes back
    payer_id: str
    payer_claim_control_number: str
    paid_amount: Money
    patient_responsibility: Money
    patient_responsibility_total: Money
    payment_date: IsoDate



class UnderpaidLine(Contract):
    """One service line paid below the contract beyond the tolerance (allowed amounts per line)."""

    line_number: int = Field(ge=1)  # 1-based position of the SVC in the claim payment
    procedure_code: str = Field(min_length=1, max_length=18)
    modifiers: list[str] = Field(default_factory=list, max_length=4)
    units: Decimal = Field(gt=0)
    date_of_service: IsoDate
    expected_allowed: Money  # contracted rate x units
    actual_allowed: Money  # AMT*B6, else SVC02 less the line's CO adjustments
    underpaid_amount: Money  # expected - actual (positive)


class PaymentUnderpaid(Event):
    """A posted claim payment (CLP02 1/19 primary or 2/20 secondary) whose allowed amount is below the tenant's
    contract with the payer beyond the contract's tolerance ("paid incorrectly"). Totals are over the lines
    that have a contract rate; `lines` are the flagged ones. Emitted once per posted payment, after its
    PaymentPosted."""

    SERVICE = "remittance"
    NAME = "payment-underpaid"
    DATA_CLASS = "internal"

    claim_id: uuid.UUID
    remittance_id: uuid.UUID  # the PaymentPosted.remittance_id
    payer_id: str
    claim_status_code: str  # CLP02
    payment_date: IsoDate
    expected_allowed: Money
    actual_allowed: Money
    underpaid_amount: Money  # expected_allowed - actual_allowed
    lines: list[UnderpaidLine] = Field(default_factory=list)


# ---------------------------------------------------------------- denials
class DenialRecorded(Event):
    SERVICE = "denials"
    NAME = "denial-recorded"
    DATA_CLASS = "internal"

    claim_id: uuid.UUID
    denial_id: uuid.UUID
    payer_id: str
    reason_codes: list[str]
    category: str
    work_queue: str
    denied_amount: Money


class ClaimCorrection(Contract):
    """What a corrected claim changes, field by field: a field given replaces the billed one, a field left out (or
    null) stays as billed. `lines` replaces every line (the total charge follows them)."""

    prior_authorization: str | None = Field(default=None, min_length=1, max_length=50)
    diagnoses: list[Code] | None = Field(default=None, min_length=1, max_length=12)
    lines: list[ServiceLine] | None = Field(default=None, min_length=1, max_length=50)
    place_of_service: str | None = Field(default=None, pattern=r"^[0-9]{2}$")
    rendering_provider: Provider | None = None
    referring_provider: Provider | None = None
    coverage: Coverage | None = None  # the same payer: a corrected member id or subscriber
    patient: Person | None = None

    def changed_fields(self) -> list[str]:
        """The names of the fields this correction replaces (what an audit row may say: names, never values)."""
        return sorted(k for k, v in self if v is not None)


class ClaimResubmissionRequested(Event):
    """A person working a denial sends the claim again through the scrubber and submission (once per
    `request_id`, the denial action's id):

    - `corrected`: a replacement of the denied claim (CLM05-3 7) naming the payer's claim number (REF*F8), with
      `correction` applied; without one, or with `review`, it waits in the scrubber's review queue for a person
      to correct it there and release it.
    - `rebill`: the claim to another payer as primary (coordination of benefits), under a new claim id
      (`new_claim_id`: a new CLM01, its own ledger); with `original_payer_as_secondary` the denying payer becomes
      the secondary coverage, billed automatically once the new primary pays."""

    SERVICE = "denials"
    NAME = "claim-resubmission-requested"
    DATA_CLASS = "phi"
    PHI_FIELDS = ("correction", "coverage")

    request_id: uuid.UUID
    denial_id: uuid.UUID
    claim_id: uuid.UUID  # the denied claim
    kind: Literal["corrected", "rebill"]
    original_claim_number: str | None = Field(default=None, min_length=1, max_length=50)  # CLP07 of the denial
    correction: ClaimCorrection | None = None
    review: bool = False
    new_claim_id: uuid.UUID | None = None
    coverage: Coverage | None = None
    original_payer_as_secondary: bool = False

    @model_validator(mode="after")
    def _what_each_kind_needs(self) -> "ClaimResubmissionRequested":
        if self.kind == "corrected" and not self.original_claim_number:
            raise ValueError("a corrected claim names the payer's claim number (original_claim_number)")
        if self.kind == "rebill" and (self.new_claim_id is None or self.coverage is None):
            raise ValueError("a rebill names the new claim id and the other payer's coverage")
        return self


class SuggestedRule(Contract):
    """The scrubber custom rule a denial pattern suggests (rcm_scrubber.domain.rule_sets.CustomRule's shape):
    stop claims of the payer with the procedure code for review, with a static message naming the pattern."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    severity: Literal["error", "warning"] = "error"
    procedure_codes: list[str] = Field(min_length=1, max_length=10)
    message: str = Field(min_length=1, max_length=500)


class DenialRuleRecommended(Event):
    """A denial pattern passed the tenant's threshold: one payer denied one procedure code with one CARC on more
    than `threshold` claims within the window (remittance dates, both ends included). Published once per pattern
    and window; `recommendation_id` is derived from them, so a consumer dedupes on it."""

    SERVICE = "denials"
    NAME = "rule-recommended"
    DATA_CLASS = "internal"

    recommendation_id: uuid.UUID
    payer_id: str = Field(min_length=1, max_length=80)
    procedure_code: str = Field(min_length=1, max_length=18)
    carc: str = Field(min_length=1, max_length=8)  # GROUP-CARC, e.g. CO-96
    count: int = Field(ge=1)  # denied claims in the window
    threshold: int = Field(ge=1)  # the tenant's N: recommended when count > N
    window_start: IsoDate
    window_end: IsoDate
    denied_amount: Money  # denied on those lines in the window
    suggested_rule: SuggestedRule


# ---------------------------------------------------------------- patient billing
class PatientBalanceOpened(Event):
    SERVICE = "patient_billing"
    NAME = "balance-opened"
    DATA_CLASS = "internal"

    claim_id: uuid.UUID
    statement_id: uuid.UUID
    amount_due: Money
    due_date: IsoDate


class PatientBalanceChanged(Event):
    """The claim's one patient balance moved to a new amount due: a later payment (secondary payer,
    correction) or a reversal replaced the patient's running responsibility (never added to it). `amount_due` is
    the whole new amount (replace, do not add); `status` is `closed` when it reaches 0, `open` otherwise
    (a closed balance reopens when a correction leaves the patient something to pay again)."""

    SERVICE = "patient_billing"
    NAME = "balance-changed"
    DATA_CLASS = "internal"

    claim_id: uuid.UUID
    statement_id: uuid.UUID
    previous_amount_due: Money
    amount_due: Money
    status: Literal["open", "closed"]
    remittance_id: uuid.UUID  # the PaymentPosted / PaymentReversed remittance that changed it
    reason: Literal["payment", "reversal"]


# Majors that are no longer produced: their schemas stay committed and their golden examples must
# still parse (through the upcasters in rcm_contracts.upcasters).
RETIRED_EVENTS: list[type[Event]] = [EncounterSubmittedV1]

ALL_EVENTS: list[type[Event]] = [
    EncounterSubmitted,
    AppointmentScheduled,
    EncounterCaptured,
    SelfPayEncounterCaptured,
    EncounterHeld,
    PatientRegistrationReceived,
    CoverageVerified,
    EligibilityHeld,
    ClaimCoded,
    ClaimScrubbed,
    ClaimSubmitted,
    ClaimAcknowledged,
    ClaimReturned,
    RemittanceReceived,
    PaymentPosted,
    PaymentReversed,
    PaymentUnderpaid,
    DenialRecorded,
    DenialRuleRecommended,
    ClaimResubmissionRequested,
    PatientBalanceOpened,
    PatientBalanceChanged,
]

EligibilityHeld.model_rebuild()  # its edits refer to Edit, defined below it
