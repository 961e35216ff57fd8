"""Which parts of a stored value are PHI, and sealing them in place.

A service declares each column holding PHI once, in its db.py (`SealedColumn`): a JSONB document whose PHI
parts are named by paths (`patient`, `coverage.member_id`, `other_payers[].coverage.subscriber`: `[]` walks every
item of a list), a JSONB value that is PHI as a whole, or a text column (an X12 file) sealed whole. The repository
layer seals on write and opens on read (`seal_row`/`open_row`), so domain code and the APIs see plain documents.

A sealed document keeps its other fields readable (queries may still use a payer id or a code) and carries its
PHI as one sealed value under the key `_phi`: a JSON list of [concrete path, value] pairs. A document without
`_phi` is returned unchanged by `open` (nothing of it was PHI, e.g. a claim with no patient yet)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal

from sqlalchemy import Table

from rcm_runtime.phi.sealing import PREFIX, PhiError, Sealer, is_sealed

SEALED_KEY = "_phi"
PREFIX_BYTES = PREFIX.encode()

Path = tuple[str | int, ...]


def _split(path: str) -> list[str]:
    return path.split(".")


def _extract(node: dict, parts: list[str], at: Path, out: list[tuple[Path, Any]]) -> None:
    """Moves the values at `parts` under `node` (a copy of its own) into `out`, removing them from it. Only the
    containers on the way are copied (copy on write: the caller's document is left as it is)."""
    head, rest = parts[0], parts[1:]
    listed = head.endswith("[]")
    key = head[:-2] if listed else head
    child = node.get(key)
    if child is None:
        return
    if listed:
        if isinstance(child, list):
            node[key] = items = list(child)
            for i, item in enumerate(items):
                if isinstance(item, dict) and rest:
                    items[i] = dict(item)
                    _extract(items[i], rest, (*at, key, i), out)
    elif rest:
        if isinstance(child, dict):
            node[key] = dict(child)
            _extract(node[key], rest, (*at, key), out)
    else:
        out.append(((*at, key), node.pop(key)))


def _put(node: dict, path: Path, value: Any) -> None:
    """Sets the value at `path` under `node` (a copy of its own), copying the containers on the way (copy on
    write, as `_extract`)."""
    for step in path[:-1]:
        child = node[step]
        node[step] = child = dict(child) if isinstance(child, dict) else list(child)
        node = child
    node[path[-1]] = value


# The PHI of a claim (rcm_contracts.claim.Claim) and of an encounter (EncounterSubmitted): the patient, and per
# coverage the member id, group number and the subscriber or insured person.
def coverage_paths(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}.{leaf}" for leaf in ("member_id", "group_number", "subscriber", "insured"))


CLAIM_PHI = ("patient", *coverage_paths("coverage"), *coverage_paths("secondary_coverage"),
             *coverage_paths("other_payers[].coverage"))


def under(prefix: str, paths: tuple[str, ...]) -> tuple[str, ...]:
    """`paths` inside the document's `prefix` (e.g. the claim inside an audit snapshot)."""
    return tuple(f"{prefix}.{p}" for p in paths)


@dataclass(frozen=True)
class SealedColumn:
    """A column holding PHI. kind: `document` (a JSONB document, `paths` sealed), `json` (a JSONB value sealed
    whole), `text` (a text column sealed whole), `bytes` (a bytea column sealed whole: the sealed text's
    ASCII) or `identifier` (a text value a caller supplies, e.g. a practice's MRN: sealed whole, always, since it
    may itself look like a sealed value). The field bound into each sealed value is `<service>.<table>.<column>`.
    `index`: a column of the same row storing the value's blind index (over the exact value: an identifier's case
    matters), for a service that looks rows up by it; `SealedColumns.seal` fills it."""

    table: Table
    column: str
    kind: Literal["document", "json", "text", "bytes", "identifier"] = "document"
    paths: tuple[str, ...] = CLAIM_PHI
    tenant_column: str = "tenant_id"
    index: str | None = None

    def field(self, service: str) -> str:
        return f"{service}.{self.table.name}.{self.column}"

    def blind_index(self, sealer: Sealer, value: str, *, tenant: str | None, service: str) -> str:
        """What `index` stores for `value` (and what a lookup by it compares with)."""
        return sealer.blind_index(value, tenant=tenant or "", field=f"{service}.{self.table.name}.{self.index}",
                                  normalise=False)

    # ---------------------------------------------------------------- one value
    # A row of no tenant (a clearinghouse file not yet attributed) is bound to the empty tenant.
    def seal(self, sealer: Sealer, value: Any, *, tenant: str | None, service: str) -> Any:
        if value is None:
            return None
        field, tenant = self.field(service), tenant or ""
        if self.kind == "text":
            return value if is_sealed(value) else sealer.seal_text(value, tenant=tenant, field=field)
        if self.kind == "identifier":
            return sealer.seal_text(value, tenant=tenant, field=field)
        if self.kind == "bytes":
            return value if value.startswith(PREFIX_BYTES) else sealer.seal(value, tenant=tenant, field=field).encode()
        if isinstance(value, dict) and SEALED_KEY in value:
            return value  # already sealed (a document read raw and written back)
        if self.kind == "json":
            return {SEALED_KEY: sealer.seal_json(value, tenant=tenant, field=field)}
        doc = dict(value)
        found: list[tuple[Path, Any]] = []
        for path in self.paths:
            _extract(doc, _split(path), (), found)
        if found:
            doc[SEALED_KEY] = sealer.seal_json([[list(p), v] for p, v in found], tenant=tenant, field=field)
        return doc

    def open(self, sealer: Sealer, value: Any, *, tenant: str | None, service: str) -> Any:
        if value is None:
            return None
        field, tenant = self.field(service), tenant or ""
        if self.kind in ("text", "identifier"):
            return sealer.open_text(value, tenant=tenant, field=field) if is_sealed(value) else value
        if self.kind == "bytes":
            value = bytes(value)
            return sealer.open(value.decode(), tenant=tenant, field=field) if value.startswith(PREFIX_BYTES) else value
        if not isinstance(value, dict) or SEALED_KEY not in value:
            return value
        opened = sealer.open_json(value[SEALED_KEY], tenant=tenant, field=field)
        if self.kind == "json":
            return opened
        doc = {k: v for k, v in value.items() if k != SEALED_KEY}
        try:
            for path, part in opened:
                _put(doc, tuple(path), part)
        except (KeyError, IndexError, TypeError):
            raise PhiError(f"{field}: a sealed part no longer fits its document") from None
        return doc

    def sealed_value(self, stored: Any) -> str | None:
        """The sealed text inside a stored value (what rotation re-encrypts), None when it holds none."""
        if self.kind in ("text", "identifier"):
            return stored if is_sealed(stored) else None
        if self.kind == "bytes":
            return bytes(stored).decode() if stored is not None and bytes(stored).startswith(PREFIX_BYTES) else None
        return stored.get(SEALED_KEY) if isinstance(stored, dict) else None

    def with_sealed_value(self, stored: Any, sealed: str) -> Any:
        if self.kind == "bytes":
            return sealed.encode()
        return sealed if self.kind in ("text", "identifier") else {**stored, SEALED_KEY: sealed}


def _sealer(sealer: Sealer | None) -> Sealer:
    if sealer is not None:
        return sealer
    from rcm_runtime.phi import sealer as process_sealer
    return process_sealer()


@dataclass(frozen=True)
class SealedColumns:
    """A service's PHI columns (declared in its db.py as `PHI`), with the service name bound into each value.
    `seal`/`open` use the process's sealer (rcm_runtime.phi.configure) unless one is given."""

    service: str
    columns: tuple[SealedColumn, ...]

    def of(self, table: Table) -> list[SealedColumn]:
        return [c for c in self.columns if c.table is table]

    def only(self, *tables: Table, columns: tuple[str, ...] | None = None) -> "SealedColumns":
        """The columns of `tables` alone (of those, the `columns` named): what one PHI revision converts, so a
        revision keeps doing what it did when a later one seals more."""
        return SealedColumns(self.service, tuple(c for c in self.columns if c.table in tables
                                                 and (columns is None or c.column in columns)))

    def seal(self, table: Table, row: dict[str, Any], *, tenant: str | None = None,
             sealer: Sealer | None = None) -> dict[str, Any]:
        """`row` (values by column name, for an insert or update) with its PHI columns sealed. `tenant`: when the
        row names no tenant column (an update's values)."""
        out = dict(row)
        for col in self.of(table):
            if col.column in out:
                at = tenant or out.get(col.tenant_column)
                if col.index is not None and out[col.column] is not None:
                    out[col.index] = col.blind_index(_sealer(sealer), out[col.column], tenant=at, service=self.service)
                out[col.column] = col.seal(_sealer(sealer), out[col.column], tenant=at, service=self.service)
        return out

    def blind_index(self, table: Table, column: str, value: str, *, tenant: str) -> str:
        """The blind index `column`'s index column holds for `value` of `tenant`: what a lookup compares with."""
        [col] = [c for c in self.of(table) if c.column == column and c.index is not None]
        return col.blind_index(_sealer(None), value, tenant=tenant, service=self.service)

    def seal_all(self, table: Table, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        sealer = _sealer(None)
        return [self.seal(table, r, sealer=sealer) for r in rows]

    def open(self, table: Table, row: Any, *, tenant: str | None = None, sealer: Sealer | None = None) -> Any:
        """A result row (a SQLAlchemy Row, RowMapping or dict) with its PHI columns opened; None stays None. A Row
        comes back as an `OpenedRow` (attribute and item access). The tenant is the row's tenant column unless
        given (a query that did not select it)."""
        if row is None:
            return None
        mapping = row._mapping if hasattr(row, "_mapping") else row
        cols = [c for c in self.of(table) if c.column in mapping]
        if not cols:
            return row
        values = {c.column: c.open(_sealer(sealer), mapping[c.column], tenant=tenant or mapping.get(c.tenant_column),
                                   service=self.service) for c in cols}
        return OpenedRow({**mapping, **values})

    def open_all(self, table: Table, rows: Iterable[Any], *, tenant: str | None = None) -> list[Any]:
        sealer = _sealer(None)
        return [self.open(table, r, tenant=tenant, sealer=sealer) for r in rows]


class OpenedRow(dict):
    """A result row with its PHI opened: attribute access like a SQLAlchemy Row (row.claim), item access by name."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> "OpenedRow":
        return self

    @property
    def _fields(self) -> tuple[str, ...]:
        return tuple(self)
