"""PHI sealing cost per field (a script, not a test): what rcm_runtime.phi adds to a write and a read.

Times, on this machine, sealing and opening one field value (AES-256-GCM with the key id and associated data), a
claim document's PHI parts (CLAIM_PHI: extract, seal, restore), an 837P-sized text, and a blind index. Each figure
is the best of several runs of N operations (the machine is shared: the best run is the least disturbed).

    .venv/bin/python bench/phi_sealing.py [-n 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rcm_runtime.phi import CLAIM_PHI, Keyring, SealedColumn, Sealer  # noqa: E402
from sqlalchemy import Column, MetaData, Table, Text  # noqa: E402
from tests.support.encounters import generate  # noqa: E402

TENANT, FIELD = "tenant-a", "charges.encounters.claim"


def best_us(fn, n: int, repeat: int = 5) -> float:
    """Microseconds per call, best of `repeat` runs of n calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20_000)
    n = ap.parse_args().n
    sealer = Sealer(Keyring("k1", {"k1": os.urandom(32)}, os.urandom(32)))
    claim = {**generate(1, seed=5, scenarios=["paid"])[0].body, "claim_id": "c1"}
    column = SealedColumn(Table("t", MetaData(), Column("tenant_id", Text), Column("claim", Text)), "claim",
                          paths=CLAIM_PHI)
    member = "M53291444"
    sealed_member = sealer.seal_text(member, tenant=TENANT, field=FIELD)
    sealed_doc = column.seal(sealer, claim, tenant=TENANT, service="charges")
    x12 = "ISA*00*" + "NM1*QC*1*OKAFOR*IVY~SV1*HC:99213*100*UN*1***1~" * 60  # ~3 KB, an 837P of one claim
    sealed_x12 = sealer.seal_text(x12, tenant=TENANT, field=FIELD)
    rows = [
        ("seal one field (a member id)", lambda: sealer.seal_text(member, tenant=TENANT, field=FIELD), n),
        ("open one field", lambda: sealer.open_text(sealed_member, tenant=TENANT, field=FIELD), n),
        ("seal a claim's PHI parts", lambda: column.seal(sealer, claim, tenant=TENANT, service="charges"), n // 4),
        ("open a claim's PHI parts", lambda: column.open(sealer, sealed_doc, tenant=TENANT, service="charges"), n // 4),
        (f"seal a {len(x12)} B X12 file", lambda: sealer.seal_text(x12, tenant=TENANT, field=FIELD), n // 4),
        (f"open a {len(x12)} B X12 file", lambda: sealer.open_text(sealed_x12, tenant=TENANT, field=FIELD), n // 4),
        ("blind index of a member id", lambda: sealer.blind_index(member, tenant=TENANT, field=FIELD), n),
    ]
    print(f"{'operation':<34} {'us/op':>8}  (best of 5 runs; shared, loaded machine: figures are noisy)")
    for name, fn, count in rows:
        print(f"{name:<34} {best_us(fn, count):8.2f}")
    print(f"sealed member id: {len(sealed_member)} chars for {len(member)}; sealed claim PHI: "
          f"{len(sealed_doc['_phi'])} chars")


if __name__ == "__main__":
    main()
