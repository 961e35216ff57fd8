"""Roles and the per-service access map: which roles hold each permission. Pure: no I/O, no FastAPI.

Every service writes ONE `AccessMap` (services/<svc>/src/rcm_<svc>/access.py) and each route names the
permission it needs (`rcm_runtime.auth.requires`). Two rules hold in every service, so no map repeats them:
`admin` holds every permission of its tenant, and `auditor` holds every read permission (never a write).
The operators' routes (rcm_runtime.ops) are outside every map: only `operator` of the operations tenant.

Every map also has `audit.read` (the audit trail's API, rcm_runtime.audit_api), held by auditor and admin only."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Iterable, Mapping


class Role(StrEnum):
    FRONT_DESK = "front_desk"  # registration, eligibility checks, appointments, intake fixes
    CODER = "coder"  # the coder queue, recoding, completeness review
    BILLER = "biller"  # claims out: scrubber review, routes, corrections, secondary claims, contracts
    DENIAL_SPECIALIST = "denial_specialist"  # the denial work queue
    # the billing office's supervisor: approves what needs a second person (a write-off above the tenant's amount)
    BILLING_MANAGER = "billing_manager"
    PATIENT_BILLING_AGENT = "patient_billing_agent"  # patient balances
    ANALYST = "analyst"  # reporting: read models, KPIs
    AUDITOR = "auditor"  # read-only everywhere (audit trails included)
    INTEGRATOR = "integrator"  # an EHR or system client: intake, remittance files, deposits
    PATIENT = "patient"  # a patient portal user (no permission yet: see README)
    # a platform operator: the ops routes over dead letters and acknowledgment files, which span tenants. Counts
    # only in a token of the operations tenant (settings.ops_tenant; rcm_runtime.ops) and holds no permission of
    # any service's access map: an operator reads no tenant's business data.
    OPERATOR = "operator"
    ADMIN = "admin"  # every permission of its tenant (settings, rule sets, payer rules)


ALL_ROLES = frozenset(Role)
AUDIT_READ = "audit.read"  # every service's audit trail: auditor and admin only


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    """Known role names only: an unknown name is a configuration or token mistake, refused loudly."""
    out = set()
    for name in names:
        try:
            out.add(Role(name))
        except ValueError:
            raise ValueError(f"unknown role {name!r} (known: {', '.join(sorted(ALL_ROLES))})") from None
    return frozenset(out)


def known_roles(names: Iterable[object]) -> frozenset[Role]:
    """The known roles among `names`; a token may carry roles of other applications, which grant nothing here."""
    return frozenset(Role(n) for n in names if isinstance(n, str) and n in Role._value2member_map_)


@dataclass(frozen=True)
class AccessMap:
    """A service's permissions: `read` ones (the auditor holds them too) and `write` ones, each with the roles
    that hold it besides admin."""

    service: str
    read: Mapping[str, Iterable[Role]] = field(default_factory=dict)
    write: Mapping[str, Iterable[Role]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "read", {AUDIT_READ: [], **self.read})
        both = set(self.read) & set(self.write)
        if both:
            raise ValueError(f"{self.service}: permissions both read and write: {sorted(both)}")

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset(self.read) | frozenset(self.write)

    def is_read(self, permission: str) -> bool:
        return permission in self.read

    def roles_for(self, permission: str) -> frozenset[Role]:
        if permission in self.read:
            return frozenset(self.read[permission]) | {Role.ADMIN, Role.AUDITOR}
        if permission in self.write:
            return frozenset(self.write[permission]) | {Role.ADMIN}
        raise KeyError(f"{self.service}: no permission {permission!r} in its access map")

    def allows(self, roles: Iterable[Role], permission: str) -> bool:
        return not self.roles_for(permission).isdisjoint(roles)

    def table(self) -> dict[str, list[str]]:
        """permission -> sorted role names: the README's and the OpenAPI's view of the map."""
        return {p: sorted(self.roles_for(p)) for p in sorted(self.permissions)}
