"""Loading the sandbox's configurable payers and member benefits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path

from rcm_sandbox.domain.adjudication import MemberBenefits, PayerRules


@dataclass(frozen=True)
class SandboxFixtures:
    payers: dict[str, PayerRules]
    member_plans: dict[str, dict | None]  # member-id prefix -> plan (None: no such member)
    not_enrolled_npis: frozenset[str] = frozenset()  # billing NPIs the clearinghouse rejects (277CA)

    def benefits_for(self, member_id: str) -> MemberBenefits | None:
        for prefix in sorted((p for p in self.member_plans if p != "default"), key=len, reverse=True):
            if member_id.upper().startswith(prefix):
                return _benefits(member_id, self.member_plans[prefix])
        return _benefits(member_id, self.member_plans.get("default"))


def _benefits(member_id: str, plan: dict | None) -> MemberBenefits | None:
    if plan is None:
        return None
    return MemberBenefits(member_id=member_id, active=bool(plan["active"]),
                          deductible_remaining=Decimal(plan["deductible_remaining"]),
                          coinsurance_rate=Decimal(plan["coinsurance_rate"]), copay=Decimal(plan["copay"]),
                          reprocess=bool(plan.get("reprocess", False)), paid_late_days=int(plan.get("paid_late_days", 0)))


def load_fixtures(path: str | None = None) -> SandboxFixtures:
    raw = json.loads(Path(path).read_text() if path else resources.files("rcm_sandbox").joinpath("fixtures/default.json").read_text())
    payers = {
        pid: PayerRules(payer_id=pid, fee_schedule={k: Decimal(v) for k, v in p["fee_schedule"].items()},
                        default_allowed_ratio=Decimal(p["default_allowed_ratio"]),
                        non_covered_codes=frozenset(p.get("non_covered_codes", [])),
                        auth_required_codes=frozenset(p.get("auth_required_codes", [])),
                        superseded_fee_schedule={k: Decimal(v) for k, v in p.get("superseded_fee_schedule", {}).items()},
                        interest_rate=Decimal(p.get("interest_rate", "0")),
                        secondary_covers=frozenset(p.get("secondary_covers", ["1", "2", "3"])),
                        name=p.get("name"), tax_id=p.get("tax_id", "060000001"))
        for pid, p in raw["payers"].items()
    }
    return SandboxFixtures(payers=payers, member_plans=raw["members"],
                           not_enrolled_npis=frozenset(raw.get("not_enrolled_npis", [])))
