"""python -m rcm_runtime.phi <command>

  new-key FILE KEY_ID [--kms local]   add a fresh key to a keys file (created when missing) and make it active
                                      (--kms local: wrapped under RCM_PHI_KEK_FILE's key)
  status  --service NAME ...          sealed values per key id in each service's PHI columns
  rotate  --service NAME ... [--batch N] [--pause-s S]
                                      re-encrypt every value under an old key id to the active key, online
  retire  KEY_ID --service NAME ...   take a key out of RCM_PHI_KEYS_FILE, refused while values under it remain
                                      (name every service sharing the keyring; default: all of them)

The services' settings come from the environment as for the services themselves (RCM_DATABASE_URL is replaced
by RCM_<SERVICE>_DATABASE_URL when set, e.g. RCM_PATIENT_BILLING_DATABASE_URL)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys

from rcm_runtime.phi import configure
from rcm_runtime.phi.keyring import KeyringError, LocalKeyManager, new_keys_document, read_document
from rcm_runtime.phi.rotation import key_use, retire, rotate

SERVICES = ("charges", "eligibility", "coding", "scrubber", "submission", "remittance", "denials",
            "patient-billing", "analytics", "sandbox")


def service_parts(name: str):
    """The service's settings (its database URL from RCM_<SERVICE>_DATABASE_URL if set) and its PHI columns: its
    own (its db.py's PHI) and its outbox's and dead letters' (rcm_runtime.messaging.PHI)."""
    from rcm_runtime.messaging import PHI as MESSAGING_PHI
    package = "rcm_" + name.replace("-", "_")
    settings_cls = importlib.import_module(f"{package}.settings").Settings
    url = os.environ.get(f"RCM_{name.replace('-', '_').upper()}_DATABASE_URL")
    settings = settings_cls(**({"database_url": url} if url else {}))
    own = getattr(importlib.import_module(f"{package}.db"), "PHI", None)
    return settings, [MESSAGING_PHI, *([own] if own is not None else [])]


async def _each(names: list[str], act) -> int:
    from rcm_runtime.db import make_engine
    for name in names:
        settings, columns = service_parts(name)
        engine = make_engine(settings, pool_size=1)
        try:
            await act(name, settings, columns, engine)
        finally:
            await engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rcm_runtime.phi", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    nk = sub.add_parser("new-key")
    nk.add_argument("file")
    nk.add_argument("key_id")
    nk.add_argument("--kms", choices=["local"])
    for name in ("status", "rotate", "retire"):
        s = sub.add_parser(name)
        if name == "retire":
            s.add_argument("key_id")
        s.add_argument("--service", action="append", choices=SERVICES)
        if name == "rotate":
            s.add_argument("--batch", type=int, default=200)
            s.add_argument("--pause-s", type=float, default=0.0)
    args = p.parse_args(argv)
    try:
        if args.command == "new-key":
            return _new_key(args)
        names = args.service or list(SERVICES)
        return asyncio.run(_run(args, names))
    except KeyringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _new_key(args) -> int:
    doc = read_document(args.file) if os.path.exists(args.file) else None
    kms = args.kms or (doc or {}).get("kms")  # a file whose keys are wrapped gets a wrapped key
    if kms not in (None, "local"):
        raise KeyringError(f"new-key wraps with the local key manager only, not {kms!r}: wrap with your KMS")
    manager = LocalKeyManager.from_file(os.environ.get("RCM_PHI_KEK_FILE", "")) if kms else None
    fresh = new_keys_document([args.key_id], manager=manager, kms=kms)
    doc = doc or {**fresh, "keys": {}}
    if args.key_id in doc["keys"]:
        raise KeyringError(f"key {args.key_id!r} is already in the keys file")
    doc["keys"][args.key_id] = fresh["keys"][args.key_id]
    doc["active"] = args.key_id
    fd = os.open(args.file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
    print(f"{args.file}: key {args.key_id} added and active; old keys stay readable until retired")
    return 0


async def _run(args, names: list[str]) -> int:
    uses: dict[str, int] = {}

    async def act(name, settings, groups, engine):
        sealer = configure(settings)
        counts: dict[str, int] = {}
        for columns in groups:
            if args.command == "rotate":
                await rotate(engine, columns, sealer, batch=args.batch, pause_s=args.pause_s, log=print)
            for kid, n in (await key_use(engine, columns)).items():
                counts[kid] = counts.get(kid, 0) + n
                uses[kid] = uses.get(kid, 0) + n
        print(f"{name}: " + (", ".join(f"{kid}: {n}" for kid, n in sorted(counts.items())) or "no sealed values"))

    await _each(names, act)
    if args.command == "retire":
        settings, _ = service_parts(names[0])
        if not settings.phi_keys_file:
            raise KeyringError("RCM_PHI_KEYS_FILE is not set")
        retire(settings.phi_keys_file, args.key_id, uses)
        print(f"key {args.key_id} retired from {settings.phi_keys_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
