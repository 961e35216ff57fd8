"""denials trend use cases: record the denial facts of every posted payment (paid ones too: they are the
denominator of a denial rate), void them when the payer reverses the payment, answer denial rates per group, and
publish a DenialRuleRecommended when a denial pattern passes the tenant's threshold (rcm_denials.domain.trends)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from rcm_contracts.events import DenialRuleRecommended, PaymentPosted, SuggestedRule
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import Delivery
from rcm_runtime.unit_of_work import UnitsOfWork

from rcm_denials.domain.root_cause import DenialClassification
from rcm_denials.domain.trends import (DEFAULT_THRESHOLD, WINDOW_DAYS, ZERO, Occurrence, Pattern, Recommendation,
                                       TrendRow, detect, payment_facts, trend_item)
from rcm_denials.trends_db import denied_lines, payment_facts as facts_table, rule_recommendations, trend_settings

_POSTED = ("paid", "partially_paid", "denied")

# Per group: claims paid or denied, those denied, billed and denied amounts. payer/provider/month divide within the
# group; carc and root_cause divide by every payment of the period (a CARC's share of all claims, not of itself).
_BY = {
    "payer": "f.payer_id",
    "provider": "coalesce(f.provider_npi, 'unknown')",
    "month": "to_char(f.remittance_date, 'YYYY-MM')",
}
_WHERE = ("f.tenant_id = :tenant AND f.status = 'posted' AND (CAST(:since AS date) IS NULL OR f.remittance_date >= "
          "CAST(:since AS date)) AND (CAST(:until AS date) IS NULL OR f.remittance_date <= CAST(:until AS date))")
_TOTALS = text(f"SELECT count(*) AS claims, coalesce(sum(f.billed_amount), 0) AS billed FROM payment_facts f "
               f"WHERE {_WHERE}")
_BY_CARC = text(
    "SELECT c.key AS key, count(DISTINCT f.remittance_id) AS denied_claims, sum(CAST(c.value AS numeric)) AS denied "
    f"FROM payment_facts f CROSS JOIN LATERAL jsonb_each_text(f.carc_amounts) AS c WHERE {_WHERE} "
    "GROUP BY c.key ORDER BY denied DESC, key")
_BY_ROOT_CAUSE = text(
    "SELECT f.root_cause AS key, count(*) AS denied_claims, sum(f.denied_amount) AS denied FROM payment_facts f "
    f"WHERE {_WHERE} AND f.denied GROUP BY f.root_cause ORDER BY denied DESC, key")


def _grouped(expression: str):
    return text(
        f"SELECT {expression} AS key, count(*) AS claims, count(*) FILTER (WHERE f.denied) AS denied_claims, "
        "sum(f.billed_amount) AS billed, sum(f.denied_amount) AS denied "
        f"FROM payment_facts f WHERE {_WHERE} GROUP BY 1 ORDER BY 1")


_void = text("UPDATE payment_facts f SET status = 'voided' FROM unnest(CAST(:tenants AS text[]), "
             "CAST(:reversed AS uuid[])) AS v(tenant_id, remittance_id) WHERE f.tenant_id = v.tenant_id "
             "AND f.remittance_id = v.remittance_id AND f.status = 'posted'")
# every touched pattern at once (one row per pattern, numbered): its denials in the dates that matter, and the end of
# its latest recommended window
_PATTERNS = ("unnest(CAST(:tenants AS text[]), CAST(:payers AS text[]), CAST(:codes AS text[]), CAST(:carcs AS "
             "text[]), CAST(:sinces AS date[]), CAST(:untils AS date[])) WITH ORDINALITY "
             "AS p(tenant_id, payer_id, code, carc, since, until, i)")
_occurrences = text(
    f"SELECT p.i, l.claim_id, l.remittance_date, l.amount FROM {_PATTERNS} JOIN denied_lines l "
    "ON l.tenant_id = p.tenant_id AND l.payer_id = p.payer_id AND l.procedure_code = p.code AND l.carc = p.carc "
    "AND l.remittance_date BETWEEN p.since AND p.until JOIN payment_facts f ON f.tenant_id = l.tenant_id "
    "AND f.remittance_id = l.remittance_id AND f.status = 'posted'")
_covered = text(
    f"SELECT p.i, max(r.window_end) AS covered FROM {_PATTERNS} JOIN rule_recommendations r "
    "ON r.tenant_id = p.tenant_id AND r.payer_id = p.payer_id AND r.procedure_code = p.code AND r.carc = p.carc "
    "GROUP BY p.i")


_FACT_COLUMNS = ["tenant_id", "remittance_id", "claim_id", "payer_id", "provider_npi", "remittance_date",
                 "billed_amount", "denied_amount", "denied", "root_cause", "reason_codes", "carc_amounts", "status",
                 "paid_amount", "payer_claim_number"]
# once per (tenant, remittance): a redelivered payment is skipped, and only new ones add denied lines
_insert_facts = BulkInsert(facts_table, _FACT_COLUMNS, on_conflict="(tenant_id, remittance_id) DO NOTHING",
                           returning=["tenant_id", "remittance_id"])
_insert_lines = BulkInsert(denied_lines, ["tenant_id", "remittance_id", "claim_id", "payer_id", "procedure_code",
                                          "carc", "amount", "remittance_date"])


class Trends:
    """Trend and pattern use cases, built once in the composition root."""

    def __init__(self, units: UnitsOfWork, *, default_threshold: int = DEFAULT_THRESHOLD) -> None:
        self.units = units
        self.default_threshold = default_threshold

    # ------------------------------------------------------------ consumed events
    async def record_payments(self, payments: Sequence[Delivery],
                              found_for: Sequence[DenialClassification | None] | None = None) -> int:
        """Facts of posted payments (each delivery's unit of work bound to its tenant; all share one connection),
        once per (tenant, remittance): a redelivery changes nothing. Then the patterns the new denied lines touch
        are checked. Returns how many payments were recorded."""
        if not payments:
            return 0
        conn = payments[0].uow.conn
        rows, lines, by_key = [], [], {}
        for p, found in zip(payments, found_for or [None] * len(payments)):
            ev: PaymentPosted = p.event
            if ev.outcome not in _POSTED:
                continue
            facts = payment_facts(ev.total_charge, [(a.group_code, a.reason_code, a.amount) for a in ev.adjustments],
                                  [(line.procedure_code, [(a.group_code, a.reason_code, a.amount)
                                                          for a in line.adjustments]) for line in ev.lines],
                                  on=ev.payment_date, remark_codes=ev.remark_codes, found=found)
            tenant = p.uow.tenant_id
            by_key[(tenant, ev.remittance_id)] = p
            rows.append({"tenant_id": tenant, "remittance_id": ev.remittance_id, "claim_id": ev.claim_id,
                         "payer_id": ev.payer_id, "provider_npi": ev.payee_npi, "remittance_date": ev.payment_date,
                         "billed_amount": facts.billed, "denied_amount": facts.denied_amount, "denied": facts.denied,
                         "root_cause": facts.root_cause, "reason_codes": list(facts.reason_codes),
                         "carc_amounts": {k: str(v) for k, v in facts.carc_amounts.items()}, "status": "posted",
                         "paid_amount": ev.paid_amount, "payer_claim_number": ev.payer_claim_control_number})
            lines += [{"tenant_id": tenant, "remittance_id": ev.remittance_id, "claim_id": ev.claim_id,
                       "payer_id": ev.payer_id, "procedure_code": d.procedure_code, "carc": d.carc,
                       "amount": d.amount, "remittance_date": ev.payment_date} for d in facts.denied_lines]
        if not rows:
            return 0
        inserted = {(r.tenant_id, r.remittance_id) for r in await _insert_facts.execute(conn, rows)}
        new_lines = [line for line in lines if (line["tenant_id"], line["remittance_id"]) in inserted]
        if new_lines:
            await _insert_lines.execute(conn, new_lines)
            await self._check_patterns(by_key, new_lines)
        return len(inserted)

    async def void_reversed(self, reversals: Sequence[Delivery]) -> None:
        """A reversed payment counts in no rate and no pattern (its correction, if any, is recorded anew)."""
        if reversals:
            await reversals[0].uow.conn.execute(_void, {"tenants": [r.uow.tenant_id for r in reversals],
                                                        "reversed": [r.event.reversed_remittance_id for r in reversals]})

    async def _check_patterns(self, by_key: dict, new_lines: list[dict]) -> None:
        """The patterns the new denied lines touch, read with two queries for the whole batch: a new line dated D
        can complete a window ending from D to D + 29 days, so denials from D - 29 to D + 29 are read."""
        conn = next(iter(by_key.values())).uow.conn
        touched: dict[tuple[str, Pattern], list[dict]] = defaultdict(list)
        for line in new_lines:
            touched[(line["tenant_id"], Pattern(line["payer_id"], line["procedure_code"], line["carc"]))].append(line)
        keys = sorted(touched, key=lambda k: (k[0], k[1].payer_id, k[1].procedure_code, k[1].carc))
        span = timedelta(days=WINDOW_DAYS - 1)
        params = {"tenants": [t for t, _ in keys], "payers": [p.payer_id for _, p in keys],
                  "codes": [p.procedure_code for _, p in keys], "carcs": [p.carc for _, p in keys],
                  "sinces": [min(line["remittance_date"] for line in touched[k]) - span for k in keys],
                  "untils": [max(line["remittance_date"] for line in touched[k]) + span for k in keys]}
        covered = {r.i: r.covered for r in await conn.execute(_covered, params)}
        occurrences: dict[int, list[Occurrence]] = defaultdict(list)
        for r in await conn.execute(_occurrences, params):
            occurrences[r.i].append(Occurrence(r.claim_id, r.remittance_date, r.amount))
        thresholds = await self._thresholds(conn, set(params["tenants"]))
        for i, (tenant, pattern) in enumerate(keys, start=1):  # WITH ORDINALITY counts from 1
            found = detect(tenant, pattern, occurrences[i], threshold=thresholds[tenant], covered_until=covered.get(i))
            for rec in found:
                await self._recommend(conn, by_key[(tenant, touched[(tenant, pattern)][-1]["remittance_id"])],
                                      tenant, rec)

    async def _recommend(self, conn, delivery: Delivery, tenant: str, rec: Recommendation) -> None:
        stored = await conn.execute(pg_insert(rule_recommendations).values(
            recommendation_id=rec.recommendation_id, tenant_id=tenant, payer_id=rec.pattern.payer_id,
            procedure_code=rec.pattern.procedure_code, carc=rec.pattern.carc, count=rec.count,
            threshold=rec.threshold, window_start=rec.window_start, window_end=rec.window_end,
            denied_amount=rec.denied_amount).on_conflict_do_nothing().returning(rule_recommendations.c.recommendation_id))
        if stored.first() is None:
            return  # recommended already (once per pattern and window)
        delivery.uow.emit(DenialRuleRecommended(
            recommendation_id=rec.recommendation_id, payer_id=rec.pattern.payer_id,
            procedure_code=rec.pattern.procedure_code, carc=rec.pattern.carc, count=rec.count,
            threshold=rec.threshold, window_start=rec.window_start, window_end=rec.window_end,
            denied_amount=rec.denied_amount,
            suggested_rule=SuggestedRule(id=rec.rule_id, procedure_codes=[rec.pattern.procedure_code],
                                         message=rec.message)),
            key=str(rec.recommendation_id), subject=f"denial-pattern/{rec.recommendation_id}")

    async def _thresholds(self, conn, tenants: set[str]) -> dict[str, int]:
        rows = await conn.execute(select(trend_settings.c.tenant_id, trend_settings.c.rule_threshold)
                                  .where(trend_settings.c.tenant_id.in_(sorted(tenants))))
        found = {r.tenant_id: r.rule_threshold for r in rows}
        return {t: found.get(t, self.default_threshold) for t in tenants}

    # ------------------------------------------------------------ reads and settings
    async def trends(self, tenant_id: str, *, group_by: str, since: date | None, until: date | None) -> dict:
        params = {"tenant": tenant_id, "since": since, "until": until}
        async with self.units.read(tenant_id) as conn:
            totals = (await conn.execute(_TOTALS, params)).one()
            if group_by in _BY:
                rows = [TrendRow(r.key, r.claims, r.denied_claims, r.billed, r.denied)
                        for r in await conn.execute(_grouped(_BY[group_by]), params)]
            else:
                query = _BY_CARC if group_by == "carc" else _BY_ROOT_CAUSE
                rows = [TrendRow(r.key, totals.claims, r.denied_claims, totals.billed, r.denied)
                        for r in await conn.execute(query, params)]
        return {"group_by": group_by, "since": since, "until": until, "claims": totals.claims,
                "billed_amount": str(Decimal(totals.billed).quantize(ZERO)), "groups": [trend_item(r) for r in rows]}

    async def threshold(self, tenant_id: str) -> dict:
        async with self.units.read(tenant_id) as conn:
            value = (await self._thresholds(conn, {tenant_id}))[tenant_id]
        return {"rule_threshold": value, "window_days": WINDOW_DAYS}

    async def set_threshold(self, *, tenant_id: str, actor: str, value: int) -> dict:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            await uow.conn.execute(pg_insert(trend_settings).values(
                tenant_id=tenant_id, rule_threshold=value, updated_by=actor).on_conflict_do_update(
                index_elements=["tenant_id"], set_={"rule_threshold": value, "updated_by": actor,
                                                    "updated_at": func.now()}))
        return {"rule_threshold": value, "window_days": WINDOW_DAYS}
