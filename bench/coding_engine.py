"""Coding-engine benchmark (a script, not a test): NCCI PTP + MUE edits at CMS-file scale.

Writes a synthetic practitioner PTP table (>= 1,000,000 pairs, real tab-delimited TXT layout, split f1..f4 like
CMS) and MUE table (>= 10,000 codes, real CSV layout with the quoted multi-line header) to a temp directory,
times load_ptp / load_mue, then runs ptp_edits + mue_edits over >= 100,000 generated claim lines.
All codes are invented 5-digit numbers. Prints figures; asserts nothing.

    cd /work/main && .venv/bin/python bench/coding_engine.py [--pairs N] [--mue-codes N] [--lines N]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import psutil

from rcm_coding.domain.mue import load_mue, mue_edits
from rcm_coding.domain.ncci import NCCI_BYPASS_MODIFIERS, load_ptp, ptp_edits
from rcm_contracts.claim import Claim, Person, Provider, ServiceLine

PTP_HEADER = (
    "CPT only copyright 2025 American Medical Association. All rights reserved.\n"
    "Synthetic NCCI PTP edits for benchmarking (invented codes, not CMS data)\n"
    "\n"
    "Column 1/Column 2 Edits\n"
    "Column 1\tColumn 2\t*=in existence\n"
    "prior to 1996\tEffective Date\tDeletion Date *=no data\tModifier 0=not allowed 1=allowed 9=not applicable\t"
    "PTP Edit Rationale\n"
)
MUE_HEADER = (
    '"CPT codes, descriptions and other data only are copyright 2025 American Medical Association.\n'
    'All Rights Reserved. (synthetic benchmark data, not CMS data)",,,\n'
    ",,,\n"
    '"HCPCS/\nCPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator","MUE Rationale"\n'
)
RATIONALES = ["Standards of medical / surgical services", "Mutually exclusive procedures",
              "CPT Manual or CMS manual coding instructions", "Misuse of column two code with column one code",
              "Anatomic considerations", "More extensive procedure", "HCPCS/CPT procedure code definition"]
MUE_RATIONALES = ["Anatomic Consideration", "Nature of Service/Procedure", "Clinical: Data", "CMS Policy",
                  "Code Descriptor / CPT Instruction", "Nature of Equipment"]
MAI_TEXT = {1: "1 Line Edit", 2: "2 Date of Service Edit: Policy", 3: "3 Date of Service Edit: Clinical"}
BYPASS = sorted(NCCI_BYPASS_MODIFIERS)
CLAIM_DATES = [date(2026, 1, 5) + timedelta(days=i) for i in range(180)]


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def write_ptp(directory: Path, pairs: int, rng: random.Random) -> tuple[list[Path], dict[str, list[str]]]:
    """Four TXT files; returns them and, per column-1 code, a few column-2 codes for building hitting claims."""
    universe = [str(c) for c in range(10000, 100000)]
    col1_codes = rng.sample(universe, 9000)
    per_col1 = [pairs // len(col1_codes)] * len(col1_codes)
    for i in range(pairs - sum(per_col1)):
        per_col1[i] += 1
    # skew like the real file: some column-1 codes carry far more pairs than others (same total)
    for i in range(0, len(per_col1) - 1, 2):
        shift = rng.randint(0, per_col1[i + 1] - 1)
        per_col1[i] += shift
        per_col1[i + 1] -= shift
    samples: dict[str, list[str]] = {}
    files = [directory / f"ccipra-bench-f{i}.txt" for i in range(1, 5)]
    handles = [f.open("w", encoding="ascii", newline="\n") for f in files]
    try:
        for h in handles:
            h.write(PTP_HEADER)
        for n, (c1, k) in enumerate(zip(col1_codes, per_col1)):
            col2s = [c for c in rng.sample(universe, k + 1) if c != c1][:k]
            samples[c1] = col2s[:4]
            out = []
            for c2 in col2s:
                r = rng.random()
                ind = "1" if r < 0.80 else ("0" if r < 0.95 else "9")
                if rng.random() < 0.2:
                    prior, eff = "*", "19960101"
                else:
                    prior, eff = "", rng.choice(("20150101", "20200401", "20230701", "20250101", "20260101"))
                dele = "20231231" if rng.random() < 0.1 else "*"
                out.append(f"{c1}\t{c2}\t{prior}\t{eff}\t{dele}\t{ind}\t{rng.choice(RATIONALES)}\n")
            handles[n * 4 // len(col1_codes)].write("".join(out))
    finally:
        for h in handles:
            h.close()
    return files, samples


def write_mue(path: Path, codes: int, rng: random.Random, hot: list[str]) -> list[str]:
    """MUE CSV; the codes most used on claims (`hot`) get an MUE so that limits are actually hit."""
    chosen = list(dict.fromkeys(hot + rng.sample([str(c) for c in range(10000, 100000)], codes)))[:codes]
    rows = [MUE_HEADER]
    for code in chosen:
        r = rng.random()
        mai = 1 if r < 0.45 else (2 if r < 0.75 else 3)
        value = rng.choice((1, 1, 1, 2, 2, 3, 4, 6, 10, 24))
        rows.append(f"{code},{value},{MAI_TEXT[mai]},{rng.choice(MUE_RATIONALES)}\n")
    path.write_text("".join(rows), encoding="ascii")
    return chosen


def build_claims(total_lines: int, samples: dict[str, list[str]], mue_codes: list[str],
                 rng: random.Random) -> list[Claim]:
    col1s = list(samples)
    patient = Person(first_name="Bench", last_name="Patient", birth_date=date(1970, 1, 1))
    provider = Provider(npi="1234567893")
    claims: list[Claim] = []
    made = 0
    while made < total_lines:
        n = rng.randint(1, 6)
        dos = rng.choice(CLAIM_DATES)
        codes: list[str] = []
        if n >= 2 and rng.random() < 0.2:  # a PTP pair on the claim
            c1 = rng.choice(col1s)
            codes += [c1, rng.choice(samples[c1])]
        while len(codes) < n:
            r = rng.random()
            codes.append(rng.choice(mue_codes) if r < 0.5 else (rng.choice(col1s) if r < 0.7 else
                                                                  str(rng.randint(10000, 99999))))
        rng.shuffle(codes)
        lines = []
        for i, code in enumerate(codes, start=1):
            mods = [rng.choice(BYPASS)] if rng.random() < 0.15 else []
            units = Decimal(rng.choice((1, 1, 1, 1, 1, 1, 1, 2, 3, 8)))
            other_day = rng.random() < 0.1
            lines.append(ServiceLine(line_number=i, procedure_code=code, modifiers=mods, units=units,
                                     charge=Decimal("125.00"),
                                     service_date=dos + timedelta(days=1) if other_day else None))
        claims.append(Claim(
            claim_id=uuid.uuid4(), encounter_id=uuid.uuid4(), source_system="bench", source_encounter_id=str(made),
            service_date=dos, place_of_service="11", patient=patient, billing_provider=provider,
            diagnoses=["J069"], lines=lines, total_charge=Decimal("125.00") * n,
        ))
        made += n
    return claims


def full_engine(claims: list[Claim], table, mues) -> None:
    """The coding service's whole engine per claim: ICD-10-CM (FY2026), HCPCS/CPT format, modifier
    rules, NCCI PTP and MUE, as rcm_coding.domain.engine.code_claim runs them."""
    from rcm_coding.domain import icd10
    from rcm_coding.domain.engine import CodingTables, code_claim

    t0 = time.perf_counter()
    icd10.is_known("A000")
    print(f"full engine: ICD-10-CM release loaded in {time.perf_counter() - t0:.1f} s")
    tables = CodingTables(ptp=table, mue=mues)
    for c in claims[:200]:
        code_claim(c, tables)
    latencies = []
    perf = time.perf_counter
    for c in claims:
        t = perf()
        code_claim(c, tables)
        latencies.append(perf() - t)
    total = sum(latencies)
    n_lines = sum(len(c.lines) for c in claims)
    q = statistics.quantiles(latencies, n=100)
    print(f"full engine: {n_lines / total:,.0f} lines/s, {len(claims) / total:,.0f} claims/s; per-claim p50 "
          f"{q[49] * 1000:.3f} ms, p99 {q[98] * 1000:.3f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1_050_000)
    ap.add_argument("--mue-codes", type=int, default=12_000)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20260314)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    print(f"python {sys.version.split()[0]}, {psutil.cpu_count()} CPUs, RSS at start {rss_mb():.0f} MB")

    with tempfile.TemporaryDirectory(prefix="rcm-bench-") as tmp:
        t0 = time.perf_counter()
        files, samples = write_ptp(Path(tmp), args.pairs, rng)
        size = sum(f.stat().st_size for f in files) / 2**20
        print(f"PTP files written: 4 TXT files, {size:.0f} MB, {time.perf_counter() - t0:.1f} s")

        before = rss_mb()
        t0 = time.perf_counter()
        table = None
        for f in files:
            with f.open(encoding="ascii") as fh:
                table = load_ptp(fh, table)
        ptp_load = time.perf_counter() - t0
        assert table is not None
        ptp_rss = rss_mb() - before
        ptp_bytes = table.memory_bytes()
        print(f"PTP load: {ptp_load:.2f} s, {len(table):,} pairs ({table.row_count:,} rows), "
              f"{table.column1_count:,} column-1 codes, {table.row_count / ptp_load:,.0f} rows/s; "
              f"table {ptp_bytes / 2**20:.0f} MB by getsizeof ({ptp_bytes / len(table):.0f} B/pair), "
              f"RSS +{ptp_rss:.0f} MB")

        hot = [c for c1 in list(samples)[:2000] for c in samples[c1][:1]]
        mue_path = Path(tmp) / "MCR_MUE_PractitionerServices_Eff_bench.csv"
        mue_codes = write_mue(mue_path, args.mue_codes, rng, hot)
        before = rss_mb()
        t0 = time.perf_counter()
        with mue_path.open(encoding="ascii") as fh:
            mues = load_mue(fh)
        mue_load = time.perf_counter() - t0
        print(f"MUE load: {mue_load * 1000:.0f} ms, {len(mues):,} codes, RSS +{rss_mb() - before:.1f} MB")

    t0 = time.perf_counter()
    claims = build_claims(args.lines, samples, mue_codes, rng)
    n_lines = sum(len(c.lines) for c in claims)
    print(f"claims built: {len(claims):,} claims, {n_lines:,} lines, {time.perf_counter() - t0:.1f} s "
          f"(RSS now {rss_mb():.0f} MB: the pydantic claims, not the tables, dominate)")

    # warm-up, then one timed pass per claim (both checks, as the coding service runs them)
    for c in claims[:200]:
        ptp_edits(c, table)
        mue_edits(c, mues)
    latencies: list[float] = []
    counts: Counter[str] = Counter()
    claims_with_edits = 0
    perf = time.perf_counter
    for c in claims:
        t = perf()
        edits = ptp_edits(c, table) + mue_edits(c, mues)
        latencies.append(perf() - t)
        if edits:
            claims_with_edits += 1
            counts.update(e.code for e in edits)
    total = sum(latencies)
    q = statistics.quantiles(latencies, n=100)
    print(f"edits: {n_lines / total:,.0f} lines/s, {len(claims) / total:,.0f} claims/s "
          f"({total:.2f} s checking {n_lines:,} lines)")
    print(f"per-claim latency: p50 {q[49] * 1000:.3f} ms, p99 {q[98] * 1000:.3f} ms, "
          f"max {max(latencies) * 1000:.3f} ms")
    print(f"findings: {claims_with_edits:,} of {len(claims):,} claims ({claims_with_edits / len(claims):.0%}); "
          + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))

    # ru_maxrss is KiB on Linux; taken before the full engine, which loads the ICD-10-CM code set
    print(f"peak RSS (NCCI/MUE run): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB "
          f"(getrusage), current {rss_mb():.0f} MB (psutil)")
    full_engine(claims, table, mues)
    print(f"peak RSS (full engine): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
