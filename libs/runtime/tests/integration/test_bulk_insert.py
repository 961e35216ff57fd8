"""BulkInsert against the real PostgreSQL: the COPY path (large batches) writes and answers exactly what the
INSERT ... unnest path does (ON CONFLICT, RETURNING, JSON columns, Python-side defaults), inside the unit of
work's transaction (rolled back with it), and a staging table is empty for the next batch."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import Column, Integer, MetaData, Numeric, Table, Text, Uuid, select, text
from sqlalchemy.dialects.postgresql import JSON, JSONB

from rcm_runtime.bulk import BulkInsert, JsonText

pytestmark = pytest.mark.integration

md = MetaData()
# Not tenant-scoped (no tenant_id column), so COPY may go straight in; a tenant-scoped table is under row-level
# security and always staged (test_tenant_scope).
items = Table("bulk_items", md,
              Column("id", Integer, primary_key=True, autoincrement=True),
              Column("batch_id", Text, nullable=False),
              Column("item_key", Text, nullable=False, unique=True),
              Column("ref", Uuid, nullable=True),
              Column("amount", Numeric(12, 2), nullable=False),
              Column("status", Text, nullable=False, default="open"),
              Column("doc", JSONB, nullable=False),
              Column("raw", JSON, nullable=True),
              Column("offset", Integer, nullable=False, server_default="0"))  # a keyword as a column name

COLUMNS = ["batch_id", "item_key", "ref", "amount", "doc", "raw", "offset"]
PATHS = {"insert": None, "copy": 1}  # copy_min_rows: None never COPYs, 1 always does


def rows(keys, *, amount="1.50", doc=None) -> list[dict]:
    return [{"batch_id": "t", "item_key": k, "ref": uuid.UUID(int=n), "amount": Decimal(amount),
             "doc": {"k": k, "codes": ["N130"]} if doc is None else doc, "raw": None if n % 2 else [n, "x"],
             "offset": n} for n, k in enumerate(keys)]


async def stored(engine) -> list[tuple]:
    async with engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(select(
            items.c.batch_id, items.c.item_key, items.c.ref, items.c.amount, items.c.status, items.c.doc,
            items.c.raw, items.c.offset).order_by(items.c.id))]


@pytest.fixture
async def engine(scratch_schema):
    _, engine = scratch_schema
    async with engine.begin() as conn:
        await conn.run_sync(md.create_all)
    return engine


@pytest.mark.parametrize("path", PATHS)
async def test_do_nothing_returning_answers_only_the_new_rows_and_the_first_of_a_repeated_key(engine, path):
    insert = BulkInsert(items, COLUMNS, on_conflict="(item_key) DO NOTHING", returning=["item_key", "amount"],
                        copy_min_rows=PATHS[path])
    async with engine.begin() as conn:
        first = await insert.execute(conn, rows(["a", "b"]))
    async with engine.begin() as conn:
        # "b" exists; "c" twice in the batch: the first one wins, as unnest's order does
        again = await insert.execute(conn, rows(["b", "c", "d"], amount="2.00") + rows(["c"], amount="9.00"))
    assert sorted((r.item_key, r.amount) for r in first) == [("a", Decimal("1.50")), ("b", Decimal("1.50"))]
    assert sorted((r.item_key, r.amount) for r in again) == [("c", Decimal("2.00")), ("d", Decimal("2.00"))]
    got = await stored(engine)
    assert [(r[1], r[3], r[4]) for r in got] == [("a", Decimal("1.50"), "open"), ("b", Decimal("1.50"), "open"),
                                                 ("c", Decimal("2.00"), "open"), ("d", Decimal("2.00"), "open")]


async def test_both_paths_store_the_same_values(engine):
    for path, prefix in (("insert", "i"), ("copy", "c")):
        insert = BulkInsert(items, COLUMNS, on_conflict=None, copy_min_rows=PATHS[path])
        batch = rows([f"{prefix}{n}" for n in range(4)], doc={"nested": {"a": [1, "2", None]}, "d": Decimal("1.10")})
        batch[1]["doc"] = JsonText('{"already": "json"}')
        batch[2]["status"] = "closed"  # a Python-side default the row sets itself
        async with engine.begin() as conn:
            assert await insert.execute(conn, batch) == []
    got = await stored(engine)
    by_path = [[r[:1] + r[2:] for r in got if r[1].startswith(p)] for p in ("i", "c")]
    assert by_path[0] == by_path[1] and len(by_path[0]) == 4
    assert by_path[1][0][4] == {"nested": {"a": [1, "2", None]}, "d": "1.10"}  # json.dumps(default=str)
    assert by_path[1][1][4] == {"already": "json"} and by_path[1][2][3] == "closed"
    assert [r[5] for r in by_path[1]] == [[0, "x"], None, [2, "x"], None]


@pytest.mark.parametrize("path", PATHS)
async def test_do_update_and_two_batches_in_one_transaction(engine, path):
    upsert = BulkInsert(items, COLUMNS, on_conflict="(item_key) DO UPDATE SET amount = bulk_items.amount + "
                        "EXCLUDED.amount", returning=["item_key"], copy_min_rows=PATHS[path])
    async with engine.begin() as conn:
        assert len(await upsert.execute(conn, rows(["a", "b"]))) == 2
        # the staging table was emptied by the first move: the second batch moves only its own rows
        assert [r.item_key for r in await upsert.execute(conn, rows(["a"]))] == ["a"]
    async with engine.begin() as conn:
        assert len(await upsert.execute(conn, rows(["b", "c"]))) == 2
    assert [(r[1], r[3]) for r in await stored(engine)] == [("a", Decimal("3.00")), ("b", Decimal("3.00")),
                                                            ("c", Decimal("1.50"))]


@pytest.mark.parametrize("conflict", [None, "(item_key) DO NOTHING"])
async def test_a_copy_rolls_back_with_its_transaction_even_as_the_first_statement(engine, conflict):
    insert = BulkInsert(items, COLUMNS, on_conflict=conflict, copy_min_rows=1)
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await insert.execute(conn, rows(["a", "b"]))  # the transaction's first statement: COPY
            raise RuntimeError("boom")
    assert await stored(engine) == []
    async with engine.begin() as conn:  # the same connection again: the staging table is recreated
        await insert.execute(conn, rows(["a"]))
    assert [r[1] for r in await stored(engine)] == ["a"]


@pytest.mark.parametrize("path", PATHS)
async def test_records_as_tuples_answer_as_dicts_do(engine, path):
    insert = BulkInsert(items, COLUMNS, on_conflict="(item_key) DO NOTHING", returning=["item_key"],
                        copy_min_rows=PATHS[path])
    assert insert.columns == [*COLUMNS, "status"]  # the Python-side default is the last column
    doc = JsonText(json.dumps({"k": 1}))
    records = [("t", k, None, Decimal("4.00"), doc, None, 0, "open") for k in ("a", "b", "a")]
    async with engine.begin() as conn:
        assert sorted(r.item_key for r in await insert.execute_records(conn, records)) == ["a", "b"]
    assert [(r[1], r[5]) for r in await stored(engine)] == [("a", {"k": 1}), ("b", {"k": 1})]


async def test_a_large_batch_uses_copy_by_default_and_a_small_one_does_not(engine):
    insert = BulkInsert(items, COLUMNS, on_conflict="(item_key) DO NOTHING", returning=["item_key"])
    async with engine.begin() as conn:
        new = await insert.execute(conn, rows([f"k{n}" for n in range(insert.copy_min_rows)]))
        staged = (await conn.execute(text("SELECT count(*) FROM pg_class WHERE relname LIKE 'bulk_bulk_items_%' "
                                          "AND relpersistence = 't'"))).scalar()
        assert len(new) == insert.copy_min_rows and staged == 1
    async with engine.begin() as conn:
        assert len(await insert.execute(conn, rows(["k0", "x"]))) == 1


@pytest.mark.parametrize("clash", ["none", "stored", "in the batch"])
async def test_conflicts_rare_copies_straight_in_and_falls_back_to_the_same_answer(engine, clash):
    insert = BulkInsert(items, COLUMNS, on_conflict="(item_key) DO NOTHING", returning=["item_key", "ref"],
                        copy_min_rows=1, conflicts_rare=True)
    async with engine.begin() as conn:
        await insert.execute(conn, rows(["stored"]))
    batch = rows(["a", "b", "stored" if clash == "stored" else "c"], amount="2.00")
    if clash == "in the batch":
        batch += rows(["a"], amount="9.00")
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO bulk_items (batch_id, item_key, amount, status, doc) "
                                "VALUES ('t', 'before', 1, 'open', '{}')"))  # the savepoint keeps this
        new = await insert.execute(conn, batch)
        staged = (await conn.execute(text("SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema() "
                                          "AND relname LIKE 'bulk_bulk_items_%'"))).scalar()
        assert staged == (0 if clash == "none" else 1)  # the staging table only when the COPY met a conflict
    expected = {"a": uuid.UUID(int=0), "b": uuid.UUID(int=1), **({"c": uuid.UUID(int=2)} if clash != "stored" else {})}
    assert {r.item_key: r.ref for r in new} == expected
    got = {r[1]: r[3] for r in await stored(engine)}
    assert got == {"stored": Decimal("1.50"), "before": Decimal("1.00"), **{k: Decimal("2.00") for k in expected}}


def test_conflicts_rare_needs_do_nothing_and_copied_returning_columns():
    with pytest.raises(ValueError):
        BulkInsert(items, COLUMNS, on_conflict="(item_key) DO UPDATE SET amount = 1", conflicts_rare=True)
    with pytest.raises(ValueError):
        BulkInsert(items, COLUMNS, on_conflict="(item_key) DO NOTHING", returning=["id"], conflicts_rare=True)


async def test_outside_a_transaction_a_large_batch_is_one_insert_statement(engine):
    insert = BulkInsert(items, COLUMNS, on_conflict="(item_key) DO NOTHING", returning=["item_key"], copy_min_rows=1)
    async with engine.connect() as conn:  # no begin(): the statement autobegins, COPY is not used
        assert not conn.in_transaction()
        assert len(await insert.execute(conn, rows(["a", "b"]))) == 2
        await conn.commit()
    assert [r[1] for r in await stored(engine)] == ["a", "b"]
