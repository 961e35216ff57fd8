"""A local token issuer for development, tests and the demo: an EC P-256 key pair, its JWKS, and tokens
signed with it (ES256). Production uses a real identity provider; services only ever see the JWKS.

    python -m rcm_runtime.dev_issuer keys .stack/auth            # private key (0600) + jwks.json, once
    python -m rcm_runtime.dev_issuer token --dir .stack/auth --tenant demo --roles biller,coder --sub alice
    python -m rcm_runtime.dev_issuer api-key --tenant demo --roles integrator   # a key + its RCM_API_KEYS entry

Services trust it with RCM_AUTH_ISSUERS="urn:openrcm:dev-issuer=file://<dir>/jwks.json". `api-key --save <dir>`
adds the entry to <dir>/api-keys (the RCM_API_KEYS value: digests only) and "tenant=key" to <dir>/client-keys
(the plaintext, 0600, for the client that holds the key: the local stack's sandbox payer)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rcm_runtime.api_keys import new_api_key
from rcm_runtime.roles import parse_roles

DEV_ISSUER = "urn:openrcm:dev-issuer"
DEFAULT_AUDIENCE = "openrcm"
PRIVATE_KEY_FILE = "issuer-key.pem"
JWKS_FILE = "jwks.json"


@dataclass(frozen=True)
class LocalIssuer:
    private_key: ec.EllipticCurvePrivateKey
    kid: str
    issuer: str = DEV_ISSUER
    audience: str = DEFAULT_AUDIENCE
    tenant_claim: str = "rcm_tenant"
    roles_claim: str = "rcm_roles"

    @classmethod
    def generate(cls, issuer: str = DEV_ISSUER, audience: str = DEFAULT_AUDIENCE) -> "LocalIssuer":
        return cls(ec.generate_private_key(ec.SECP256R1()), kid=uuid.uuid4().hex[:16], issuer=issuer,
                   audience=audience)

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private_key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}]}

    def token(self, *, sub: str, tenant: str, roles: Iterable[str], ttl_s: float = 3600.0, now: float | None = None,
              **claims: Any) -> str:
        """A signed access token; `claims` add or override any claim (tests forge bad ones this way)."""
        issued = time.time() if now is None else now
        body = {"iss": self.issuer, "sub": sub, "aud": self.audience, "iat": int(issued),
                "exp": int(issued + ttl_s), self.tenant_claim: tenant, self.roles_claim: list(roles),
                "jti": uuid.uuid4().hex, **claims}
        return jwt.encode({k: v for k, v in body.items() if v is not None}, self.private_key, algorithm="ES256",
                          headers={"kid": self.kid})

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        key_path = directory / PRIVATE_KEY_FILE
        pem = self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        meta = {"kid": self.kid, "issuer": self.issuer, "audience": self.audience}
        (directory / "issuer.json").write_text(json.dumps(meta, indent=2) + "\n")
        (directory / JWKS_FILE).write_text(json.dumps(self.jwks(), indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> "LocalIssuer":
        meta = json.loads((directory / "issuer.json").read_text())
        key = serialization.load_pem_private_key((directory / PRIVATE_KEY_FILE).read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{directory / PRIVATE_KEY_FILE} is not an EC private key")
        return cls(key, kid=meta["kid"], issuer=meta["issuer"], audience=meta["audience"])

    def issuers_setting(self, directory: Path) -> str:
        """The RCM_AUTH_ISSUERS value that trusts this issuer through its JWKS file."""
        return f"{self.issuer}=file://{(directory / JWKS_FILE).resolve()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rcm_runtime.dev_issuer", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    keys = sub.add_parser("keys", help="write a fresh private key and its JWKS into DIR (kept if present)")
    keys.add_argument("dir", type=Path)
    keys.add_argument("--force", action="store_true", help="replace an existing key (invalidates its tokens)")
    keys.add_argument("--issuer", default=DEV_ISSUER)
    keys.add_argument("--audience", default=DEFAULT_AUDIENCE)
    tok = sub.add_parser("token", help="print a signed access token")
    tok.add_argument("--dir", type=Path, default=Path(os.environ.get("RCM_DEV_ISSUER_DIR", ".stack/auth")))
    tok.add_argument("--tenant", required=True)
    tok.add_argument("--roles", required=True, help="comma-separated role names")
    tok.add_argument("--sub", required=True, help="the subject: the person or system acting")
    tok.add_argument("--ttl", type=float, default=3600.0, help="seconds until it expires")
    tok.add_argument("--patient", default=None, help="the patient account a `patient` token is bound to")
    key = sub.add_parser("api-key", help="print a fresh API key and its RCM_API_KEYS entry")
    key.add_argument("--tenant", required=True)
    key.add_argument("--roles", required=True, help="comma-separated role names")
    key.add_argument("--save", type=Path, default=None, help="append to DIR/api-keys and DIR/client-keys")
    args = ap.parse_args(argv)

    if args.command == "keys":
        if (args.dir / PRIVATE_KEY_FILE).exists() and not args.force:
            print(f"{args.dir / PRIVATE_KEY_FILE} exists: kept (--force replaces it)", file=sys.stderr)
        else:
            LocalIssuer.generate(args.issuer, args.audience).save(args.dir)
        print(LocalIssuer.load(args.dir).issuers_setting(args.dir))
        return 0
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    parse_roles(roles)  # an unknown role name is a typo: say so now, not as a 403 later
    if args.command == "token":
        print(LocalIssuer.load(args.dir).token(sub=args.sub, tenant=args.tenant, roles=roles, ttl_s=args.ttl,
                                               rcm_patient=args.patient))
        return 0
    api_key, entry = new_api_key(args.tenant, roles)
    if args.save is not None:
        _append(args.save / "api-keys", entry)
        _append(args.save / "client-keys", f"{args.tenant}={api_key}")
    print(f"key:   {api_key}\nentry: {entry}")
    return 0


def _append(path: Path, item: str) -> None:
    """Comma-separated, as the settings read it; written 0600 (client-keys holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+") as f:
        current = f.read().strip()
        f.seek(0)
        f.write(f"{current},{item}" if current else item)
        f.truncate()


if __name__ == "__main__":
    sys.exit(main())
