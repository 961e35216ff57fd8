"""X12 implementation-guide validation benchmark (a script, not a test): our validator vs pyx12.

Generates N 837P claims (005010X222A1) from a small built-in template (no sample files needed), batches
them into interchanges of B claims each (one ST per interchange), and validates the same interchanges
with rcm_x12.ig and with pyx12 (through tests/support/pyx12_oracle). Prints claims/s, the verdicts, and each engine's peak RSS.

Each engine runs in its own child process so its peak RSS is its own (ru_maxrss is per process), and
maps are loaded the way each engine normally does: ours once per process (compile time reported
separately), pyx12 inside every x12n_document() call (that is how pyx12 works).

    .venv/bin/python bench/x12_validation.py                      # 5000 claims, 250 per interchange
    .venv/bin/python bench/x12_validation.py --claims 20000 --batch 500 --pyx12-claims 2000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.pyx12_oracle (the pyx12 reference is test support)

# ---------------------------------------------------------------- 837P generator

LAST_NAMES = ["SMITH", "JOHNSON", "GARCIA", "NGUYEN", "OKAFOR", "MUELLER", "ROSSI", "TANAKA", "KOWALSKI"]
FIRST_NAMES = ["ANA", "BEN", "CHLOE", "DAVID", "EMMA", "FARID", "GRACE", "HUGO", "IRIS", "JONAS"]
STREETS = ["MAIN ST", "OAK AVE", "ELM RD", "PINE CT", "LAKE DR", "HILL BLVD"]
CITIES = [("SPRINGFIELD", "IL", "62701"), ("COLUMBUS", "OH", "43004"), ("AUSTIN", "TX", "73301"),
          ("DENVER", "CO", "80202"), ("TAMPA", "FL", "33601")]
PROCEDURES = [("99213", "95.00"), ("99214", "140.00"), ("85025", "18.50"), ("80053", "32.00"),
              ("93000", "45.25"), ("36415", "9.75"), ("97110", "60.00"), ("90686", "27.40")]
DIAGNOSES = ["E119", "I10", "J069", "M5450", "R51", "Z0000", "K219", "E785"]


def _claim(rng: random.Random, number: int, hl: int, service_day: date) -> list[str]:
    """One subscriber (2000B, patient = subscriber) with one claim (2300) and 1-4 lines (2400)."""
    city, state, zip_code = rng.choice(CITIES)
    dob = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 30000))
    lines = [rng.choice(PROCEDURES) for _ in range(rng.randint(1, 4))]
    total = sum(int(amount.replace(".", "")) for _, amount in lines)
    dx = rng.sample(DIAGNOSES, 2)
    segs = [
        f"HL*{hl}*1*22*0",
        "SBR*P*18*GRP{:05d}******CI".format(rng.randrange(100000)),
        f"NM1*IL*1*{rng.choice(LAST_NAMES)}*{rng.choice(FIRST_NAMES)}****MI*MBR{rng.randrange(10**9):09d}",
        f"N3*{rng.randint(1, 9999)} {rng.choice(STREETS)}",
        f"N4*{city}*{state}*{zip_code}{rng.randrange(10000):04d}",
        f"DMG*D8*{dob:%Y%m%d}*{rng.choice('FM')}",
        "NM1*PR*2*DEMO HEALTH PLAN*****PI*DHP01",
        f"CLM*RCM{number:08d}*{total // 100}.{total % 100:02d}***11:B:1*Y*A*Y*Y",
        f"HI*ABK:{dx[0]}*ABF:{dx[1]}",
    ]
    for i, (code, amount) in enumerate(lines, start=1):
        segs += [f"LX*{i}", f"SV1*HC:{code}*{amount}*UN*1***1", f"DTP*472*D8*{service_day:%Y%m%d}"]
    return segs


def interchange(rng: random.Random, control: int, first_claim: int, claims: int) -> str:
    """A complete 837P interchange: ISA/GS/ST, submitter, receiver, one billing provider, `claims` claims."""
    today = date(2026, 3, 2)
    body = [
        f"BHT*0019*00*BATCH{control:06d}*{today:%Y%m%d}*0930*CH",
        "NM1*41*2*OPENRCM BILLING*****46*OPENRCM01",
        "PER*IC*BILLING DESK*TE*5555550100",
        "NM1*40*2*DEMO HEALTH PLAN*****46*DHP01",
        "HL*1**20*1",
        "NM1*85*2*DEMO FAMILY CLINIC*****XX*1234567893",
        "N3*100 MAIN ST",
        "N4*SPRINGFIELD*IL*627010000",
        "REF*EI*123456789",
    ]
    for k in range(claims):
        service_day = today - timedelta(days=rng.randrange(1, 60))
        body += _claim(rng, first_claim + k, hl=k + 2, service_day=service_day)
    st = ["ST*837*0001*005010X222A1", *body]
    segs = [
        f"ISA*00*          *00*          *ZZ*OPENRCM01      *ZZ*DHP01          *{today:%y%m%d}*0930*^*00501*"
        f"{control:09d}*0*T*:",
        f"GS*HC*OPENRCM01*DHP01*{today:%Y%m%d}*0930*{control}*X*005010X222A1",
        *st,
        f"SE*{len(st) + 1}*0001",
        f"GE*1*{control}",
        f"IEA*1*{control:09d}",
    ]
    return "~\n".join(segs) + "~\n"


def generate(claims: int, batch: int, seed: int = 837) -> list[tuple[str, int]]:
    """(interchange text, claim count) pairs, deterministic for a seed."""
    rng = random.Random(seed)
    out, made = [], 0
    while made < claims:
        n = min(batch, claims - made)
        out.append((interchange(rng, control=len(out) + 1, first_claim=made + 1, claims=n), n))
        made += n
    return out


# ---------------------------------------------------------------- engines (run in child processes)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_ours(batches: list[tuple[str, int]]) -> dict:
    from rcm_x12.ig.validator import IgValidator

    t0 = time.perf_counter()
    validator = IgValidator.for_transaction("837", "005010X222A1")
    compile_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    verdicts = [validator.validate(text).ok for text, _ in batches]
    return {"elapsed": time.perf_counter() - t0, "cpu": time.process_time() - c0, "compile": compile_s,
            "verdicts": verdicts}


def run_pyx12(batches: list[tuple[str, int]]) -> dict:
    from tests.support.pyx12_oracle import pyx12_verdict

    pyx12_verdict("ISA")  # imports pyx12 outside the timed loop
    t0, c0 = time.perf_counter(), time.process_time()
    verdicts = [pyx12_verdict(text).valid for text, _ in batches]
    return {"elapsed": time.perf_counter() - t0, "cpu": time.process_time() - c0, "compile": 0.0,
            "verdicts": verdicts}


def child(engine: str, claims: int, batch: int) -> None:
    batches = generate(claims, batch)
    before = _peak_rss_mb()  # interpreter + generated files, before the engine is imported
    result = (run_ours if engine == "ours" else run_pyx12)(batches)
    result.update(claims=sum(n for _, n in batches), interchanges=len(batches),
                  segments=sum(text.count("~") for text, _ in batches), peak_rss_mb=_peak_rss_mb(),
                  rss_before_mb=before)
    print(json.dumps(result))


def spawn(engine: str, claims: int, batch: int) -> dict:
    cmd = [sys.executable, __file__, "--child", engine, "--claims", str(claims), "--batch", str(batch)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(name: str, r: dict) -> float:
    """One engine's line; returns claims per CPU second (steadier than wall time on a shared machine)."""
    rate = r["claims"] / r["elapsed"]
    cpu_rate = r["claims"] / r["cpu"]
    valid = sum(r["verdicts"])
    print(f"{name:>6}: {r['claims']:>6} claims ({r['segments']} segments) in {r['interchanges']:>3} interchanges: "
          f"{r['elapsed']:6.2f} s wall -> {rate:7.0f} claims/s, {cpu_rate:7.0f} claims per CPU-s; "
          f"valid {valid}/{len(r['verdicts'])}; peak RSS {r['peak_rss_mb']:.0f} MiB "
          f"({r['peak_rss_mb'] - r['rss_before_mb']:+.0f} MiB over the data alone)"
          + (f"; one-time map compile {r['compile']:.2f} s" if r["compile"] else ""))
    return cpu_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=250, help="claims per interchange (100-500 typical)")
    parser.add_argument("--pyx12-claims", type=int, default=1000, help="pyx12 validates this many (it is slow)")
    parser.add_argument("--child", choices=["ours", "pyx12"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.claims, args.batch)
        return
    ours = spawn("ours", args.claims, args.batch)
    theirs = spawn("pyx12", min(args.pyx12_claims, args.claims), args.batch)
    rate_ours = report("ours", ours)
    rate_pyx12 = report("pyx12", theirs)
    shared = len(theirs["verdicts"])
    agree = ours["verdicts"][:shared] == theirs["verdicts"]
    print(f"verdicts on the {shared} interchanges both validated: {'agree' if agree else 'DISAGREE'}; "
          f"speed-up {rate_ours / rate_pyx12:.1f}x (CPU time), "
          f"{(ours['claims'] / ours['elapsed']) / (theirs['claims'] / theirs['elapsed']):.1f}x (wall time)")


if __name__ == "__main__":
    main()
