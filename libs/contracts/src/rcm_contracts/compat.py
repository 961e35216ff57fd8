"""Schema compatibility between two JSON Schemas of the same event type (pure).

backward: a reader on the new schema reads data written under the old one -> no new required field,
          no property changed type.
forward:  a reader on the old schema reads data written under the new one -> no property that the
          old schema required was removed, no property changed type.
Nested objects ($defs) are compared by name.
"""

from __future__ import annotations

from typing import Any


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return schema.get("$defs", {}).get(ref.split("/")[-1], {})
    return node


def _type_sig(schema: dict[str, Any], node: dict[str, Any]) -> Any:
    node = _resolve(schema, node)
    if "anyOf" in node:
        return tuple(sorted(str(_type_sig(schema, n)) for n in node["anyOf"]))
    if node.get("type") == "array":
        return ("array", _type_sig(schema, node.get("items", {})))
    if "enum" in node:
        return ("enum", node.get("type"))
    if "const" in node:
        return ("const", node["const"])
    return node.get("type", "object" if "properties" in node else "any")


def _compare_object(old_s, old, new_s, new, path: str, problems: list[str]) -> None:
    old, new = _resolve(old_s, old), _resolve(new_s, new)
    op, np_ = old.get("properties", {}), new.get("properties", {})
    oreq, nreq = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(nreq - oreq):
        problems.append(f"backward: {path}{name} is newly required")
    for name in sorted(oreq - set(np_)):
        problems.append(f"forward: {path}{name} was required and is gone")
    for name in sorted(set(op) & set(np_)):
        o, n = _resolve(old_s, op[name]), _resolve(new_s, np_[name])
        if "properties" in o and "properties" in n:
            _compare_object(old_s, o, new_s, n, f"{path}{name}.", problems)
            continue
        if o.get("type") == "array" and n.get("type") == "array":
            oi, ni = _resolve(old_s, o.get("items", {})), _resolve(new_s, n.get("items", {}))
            if "properties" in oi and "properties" in ni:
                _compare_object(old_s, oi, new_s, ni, f"{path}{name}[].", problems)
                continue
        if _type_sig(old_s, o) != _type_sig(new_s, n):
            problems.append(f"both: {path}{name} changed type")
        oe, ne = o.get("enum"), n.get("enum")
        if oe is not None and ne is not None:
            if set(oe) - set(ne):
                problems.append(f"backward: {path}{name} lost enum values {sorted(set(oe) - set(ne))}")
            if set(ne) - set(oe):
                problems.append(f"forward: {path}{name} gained enum values {sorted(set(ne) - set(oe))}")


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    _compare_object(old, old, new, new, "", problems)
    return problems
