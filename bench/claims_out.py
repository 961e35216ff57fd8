"""Claims-out-the-door benchmark (a script, not a test): scrub -> 837P -> implementation-guide validation.

Runs in one process, without the stack, the pure code each service runs on the way out:
  1. generate: N encounters from tests.support.encounters (billable scenarios only), turned into claims the
     way charges does (EncounterSubmitted -> with_profiles -> build_claim), the billing provider filled
     from the enrolled profile (tax id, ZIP+4 address, taxonomy). Setup: reported, not a headline figure.
  2. scrub: rcm_scrubber's engine per claim (rule set resolved per claim from a library holding a payer
     rule set with SCR035 authorization codes and a custom rule; ~1,000 known fingerprints for SCR034),
     then decision(). Counts clean vs review.
  3. 837P: build_837p on the clean claims, one interchange per --batch claims of one payer.
  4. validate: our IgValidator (005010X222A1) on every interchange.
  5. pyx12: x12n_document on the first interchanges (--pyx12-claims claims), verdicts compared with ours.
Prints claims/s per step, the peak RSS so far after each step, and a summary block. Asserts nothing.

    cd /work/main && .venv/bin/python bench/claims_out.py [--n 50000] [--batch 500] [--pyx12-claims 2000]
"""

from __future__ import annotations

import argparse
import importlib
import io
import logging
import random
import resource
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rcm_charges.domain.claim_builder import build_claim  # noqa: E402
from rcm_charges.service import TenantReference, with_profiles  # noqa: E402
from rcm_contracts.claim import Claim, Provider  # noqa: E402
from rcm_contracts.events import EncounterSubmitted  # noqa: E402
from rcm_scrubber.domain.engine import ScrubContext, claim_fingerprint, decision, scrub  # noqa: E402
from rcm_scrubber.domain.rule_sets import RuleSetLibrary, parse_rule_set  # noqa: E402
from rcm_x12.claim_837p.write import ClaimBatch, Receiver, Submitter, build_837p  # noqa: E402
from rcm_x12.ig.validator import IgValidator  # noqa: E402
from tests.support.encounters import PROVIDER_PROFILES, generate  # noqa: E402

# scenarios whose claims are complete and billable (the others stop at a hold by design)
BILLABLE_SCENARIOS = ["paid", "copay", "deductible", "coinsurance", "with_auth", "non_covered_line"]
TENANT = "bench-tenant"
TODAY = date(2026, 10, 15)  # after every generated date of service (2026-08-01..2026-09-30), inside timely filing
NOW = datetime(2026, 10, 15, 9, 30)
SUBMITTER = Submitter("OpenRCM Billing", TENANT[:15], "EDI Desk", phone="2175550100")
RECEIVER = Receiver("Sandbox Clearinghouse", "SBXCLEARING")
FILING_INDICATOR = {"SBX01": "CI", "SBX02": "16"}  # SBR09: commercial; HMO Medicare risk (Medicare Advantage)
# the payer rule set: authorization list for SCR035 and one custom (declarative) rule
PAYER_RULE_SET = {
    "tenant_id": TENANT, "payer_id": "SBX01", "version": 1, "effective_from": "2020-01-01",
    "description": "bench: SBX01 policy",
    "edits": {"SCR035": {"parameters": {"auth_required_codes": ["72148", "7014*", "7055*"]}}},
    "custom_rules": [{"id": "SBX01-ACUPUNCTURE-DX", "severity": "error", "field": "diagnosis_pointers",
                      "when": {"procedure_codes": ["97810", "97811"], "missing_diagnosis_codes": ["M54"]},
                      "message": "this payer covers acupuncture only for low back pain (M54.*)"}],
}


@dataclass
class Step:
    name: str
    claims: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.claims / self.seconds if self.seconds else float("inf")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def report(step: Step) -> Step:
    print(f"{step.name}: {step.claims:,} claims in {step.seconds:.2f} s -> {step.rate:,.0f} claims/s; "
          f"peak RSS so far {peak_rss_mb():.0f} MiB")
    for note in step.notes:
        print(f"  {note}")
    return step


# ---------------------------------------------------------------- 1. claims as charges builds them


def tenant_reference() -> TenantReference:
    """The enrolled provider profiles, as charges loads them from provider_profiles."""
    return TenantReference(profiles={p["npi"]: Provider.model_validate(p) for p in PROVIDER_PROFILES})


def build_claims(bodies: list[dict], ref: TenantReference, rng: random.Random) -> list[Claim]:
    claims = []
    for body in bodies:
        submission = with_profiles(EncounterSubmitted.model_validate(body), ref)
        claims.append(build_claim(submission, claim_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                                  encounter_id=uuid.UUID(int=rng.getrandbits(128), version=4)))
    return claims


def generate_claims(n: int, seed: int) -> tuple[list[Claim], Step]:
    rng = random.Random(seed)
    ref = tenant_reference()
    encounters, t_gen = timed(lambda: generate(n, seed=seed, source_system="bench-ehr", run_id="bench",
                                               scenarios=BILLABLE_SCENARIOS))
    claims, t_build = timed(lambda: build_claims([g.body for g in encounters], ref, rng))
    mix = Counter(g.scenario for g in encounters)
    billing = claims[0].billing_provider
    return claims, Step("generate", n, t_gen + t_build, [
        f"encounter bodies {n / t_gen:,.0f}/s, claims (validate + profiles + build_claim) {n / t_build:,.0f}/s",
        "scenarios: " + ", ".join(f"{s} {c:,}" for s, c in mix.most_common()),
        f"billing provider filled from profile: tax id {billing.tax_id is not None}, "
        f"ZIP+4 {billing.address is not None and len(billing.address.postal_code) == 9}, "
        f"taxonomy {billing.taxonomy is not None}",
    ])


# ---------------------------------------------------------------- 2. scrub


def known_fingerprints(claims: list[Claim], seed: int, total: int, resent: int) -> frozenset[str]:
    """`total` fingerprints of claims already submitted: a prior batch, plus `resent` of this batch's own
    claims (spread through it) so that SCR034 actually fires."""
    prior_bodies = [g.body for g in generate(total - resent, seed=seed + 1, source_system="bench-prior",
                                             scenarios=BILLABLE_SCENARIOS)]
    prior = build_claims(prior_bodies, tenant_reference(), random.Random(seed + 1))
    again = claims[:: max(1, len(claims) // resent)][:resent] if resent else []
    return frozenset(claim_fingerprint(c, TENANT) for c in prior + again)


def scrub_all(claims: list[Claim], library: RuleSetLibrary, known: frozenset[str]) -> tuple[list[Claim], Step]:
    clean: list[Claim] = []
    held_by: Counter[str] = Counter()

    def run() -> None:
        for claim in claims:
            ctx = ScrubContext(today=TODAY, tenant_id=TENANT, rule_set=library.for_claim(claim, TENANT),
                               known_fingerprints=known)
            edits = scrub(claim, context=ctx)
            if decision(edits) == "clean":
                clean.append(claim)
            else:
                held_by.update({e.code for e in edits if e.severity == "error"})

    _, seconds = timed(run)
    review = len(claims) - len(clean)
    return clean, Step("scrub", len(claims), seconds, [
        f"clean {len(clean):,}, review {review:,}; known fingerprints {len(known):,}",
        "review by edit: " + (", ".join(f"{code} {c:,}" for code, c in held_by.most_common()) or "none"),
    ])


# ---------------------------------------------------------------- 3. 837P


def batches_by_payer(claims: list[Claim], size: int) -> Iterator[tuple[str, list[Claim]]]:
    by_payer: dict[str, list[Claim]] = defaultdict(list)
    for claim in claims:
        by_payer[claim.coverage.payer_id].append(claim)
    for payer, group in sorted(by_payer.items()):
        for i in range(0, len(group), size):
            yield payer, group[i:i + size]


def build_interchanges(claims: list[Claim], size: int) -> tuple[list[tuple[str, int]], Step]:
    """(interchange text, claim count) per batch, control numbers from 1."""
    out: list[tuple[str, int]] = []

    def run() -> None:
        for control, (payer, batch) in enumerate(batches_by_payer(claims, size), start=1):
            text = build_837p(ClaimBatch(
                claims=batch, submitter=SUBMITTER, receiver=RECEIVER, interchange_control_number=control, now=NOW,
                sender_id=SUBMITTER.id, receiver_id=RECEIVER.id, usage="T",
                claim_filing_indicator=FILING_INDICATOR.get(payer, "CI")))
            out.append((text, len(batch)))

    _, seconds = timed(run)
    size_mb = sum(len(text) for text, _ in out) / 1e6
    segments = sum(text.count("~") for text, _ in out)
    return out, Step("837P", len(claims), seconds, [
        f"{len(out):,} interchanges, {size_mb:.1f} MB of X12, {segments:,} segments ({size_mb / seconds:.1f} MB/s)"])


# ---------------------------------------------------------------- 4./5. validation


def validate_ours(interchanges: list[tuple[str, int]]) -> tuple[list[bool], Step]:
    validator, compile_s = timed(lambda: IgValidator.for_transaction("837", "005010X222A1"))
    reports, seconds = timed(lambda: [validator.validate(text) for text, _ in interchanges])
    verdicts = [r.ok for r in reports]
    notes = [f"valid {sum(verdicts):,}/{len(verdicts):,} interchanges; map compile {compile_s:.2f} s (not timed)"]
    for i, r in enumerate(reports):
        if not r.ok and len(notes) < 6:
            notes.append(f"interchange {i + 1} invalid: " + "; ".join(str(f) for f in r.errors[:3]))
    return verdicts, Step("validate (ours)", sum(n for _, n in interchanges), seconds, notes)


def pyx12_valid(text: str) -> bool:
    import pyx12.params
    import pyx12.x12n_document

    try:
        return bool(pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), fd_997=None,
                                                      fd_html=None))
    except Exception:  # noqa: BLE001 - a crash is "did not pass"
        return False


def validate_pyx12(interchanges: list[tuple[str, int]], ours: list[bool], claims: int) -> tuple[list[bool], Step]:
    subset, total = [], 0
    for text, n in interchanges:
        if total >= claims:
            break
        subset.append(text)
        total += n
    logger = logging.getLogger("pyx12")  # pyx12 logs each error with element values (PHI): keep it quiet
    logger.setLevel(logging.CRITICAL + 1)
    importlib.import_module("pyx12.x12n_document")  # import outside the timed loop

    verdicts, seconds = timed(lambda: [pyx12_valid(text) for text in subset])
    agree = verdicts == ours[:len(verdicts)]
    return verdicts, Step("validate (pyx12)", total, seconds, [
        f"valid {sum(verdicts)}/{len(verdicts)} interchange(s); verdicts {'agree' if agree else 'DISAGREE'} "
        f"with ours on the same files"])


# ---------------------------------------------------------------- main


def summary(steps: dict[str, Step], n: int, clean: int, mb: float, valid: tuple[int, int],
            agree: bool, pyx12_files: int) -> None:
    ours, theirs = steps["validate (ours)"], steps["validate (pyx12)"]
    out_s = sum(steps[k].seconds for k in ("scrub", "837P", "validate (ours)"))
    print("\n==================== claims out the door: summary ====================")
    print(f"claims generated:   {n:,} (setup: {steps['generate'].rate:,.0f} claims/s, not a headline figure)")
    print(f"scrub:              {steps['scrub'].rate:,.0f} claims/s ({clean:,} clean, {n - clean:,} review)")
    print(f"837P build:         {steps['837P'].rate:,.0f} claims/s ({mb:.1f} MB of X12)")
    print(f"validate (ours):    {ours.rate:,.0f} claims/s ({valid[0]:,}/{valid[1]:,} interchanges valid)")
    print(f"validate (pyx12):   {theirs.rate:,.0f} claims/s ({theirs.claims:,} claims, {pyx12_files} interchange(s); "
          f"verdicts {'agree' if agree else 'DISAGREE'})")
    print(f"ours / pyx12:       {ours.rate / theirs.rate:,.1f}x")
    print(f"scrub+837P+validate: {n / out_s:,.0f} claims/s end to end ({out_s:.1f} s for {n:,} scrubbed claims)")
    print(f"peak RSS:           {peak_rss_mb():,.0f} MiB (ru_maxrss)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000, help="claims to generate")
    ap.add_argument("--batch", type=int, default=500, help="claims per interchange (one payer each)")
    ap.add_argument("--pyx12-claims", type=int, default=2000, help="pyx12 validates the first interchanges up to this")
    ap.add_argument("--known-fingerprints", type=int, default=1000, help="fingerprints of already-submitted claims")
    ap.add_argument("--resent", type=int, default=50, help="of which this many are claims of this run (duplicates)")
    ap.add_argument("--seed", type=int, default=20261015)
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, {psutil.cpu_count()} CPUs, RSS at start "
          f"{psutil.Process().memory_info().rss / 2**20:.0f} MiB")

    steps: dict[str, Step] = {}
    claims, step = generate_claims(args.n, args.seed)
    steps["generate"] = report(step)

    library = RuleSetLibrary([parse_rule_set(PAYER_RULE_SET)])
    known = known_fingerprints(claims, args.seed, args.known_fingerprints, args.resent)
    clean, step = scrub_all(claims, library, known)
    steps["scrub"] = report(step)

    interchanges, step = build_interchanges(clean, args.batch)
    steps["837P"] = report(step)

    ours, step = validate_ours(interchanges)
    steps["validate (ours)"] = report(step)

    theirs, step = validate_pyx12(interchanges, ours, args.pyx12_claims)
    steps["validate (pyx12)"] = report(step)

    summary(steps, args.n, len(clean), sum(len(t) for t, _ in interchanges) / 1e6, (sum(ours), len(ours)),
            theirs == ours[:len(theirs)], len(theirs))


if __name__ == "__main__":
    main()
