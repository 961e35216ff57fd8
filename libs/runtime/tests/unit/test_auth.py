"""Authentication without I/O: bearer tokens against an issuer's JWKS (served by a counting fetch function),
hashed API keys, and the role -> permission decisions of an access map."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rcm_runtime.api_keys import digest, new_api_key, parse_api_keys
from rcm_runtime.auth import Authenticator, ClaimNames, Forbidden, Unauthenticated
from rcm_runtime.dev_issuer import LocalIssuer, main as dev_issuer_main
from rcm_runtime.roles import AccessMap, Role, known_roles, parse_roles
from rcm_runtime.settings import ServiceSettings
from rcm_runtime.tokens import KeySet, TokenVerifier, asymmetric_algorithms, jwks_fetcher

ISSUER = LocalIssuer.generate()


class Jwks:
    """An issuer's JWKS endpoint: what it serves can change (key rotation); it counts requests."""

    def __init__(self, *issuers: LocalIssuer) -> None:
        self.doc = {"keys": [k for i in issuers for k in i.jwks()["keys"]]}
        self.fetches = 0

    async def __call__(self) -> dict:
        self.fetches += 1
        return self.doc


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def authenticator(jwks: Jwks | None = None, *, clock: Clock | None = None, leeway_s: float = 30.0,
                  api_keys: str = "", issuer: str = ISSUER.issuer) -> Authenticator:
    keys = KeySet(jwks or Jwks(ISSUER), ttl_s=3600, refetch_min_s=60, now=clock or Clock())
    return Authenticator(TokenVerifier({issuer: keys}, audiences=frozenset({"openrcm"}),
                                       algorithms=frozenset({"ES256", "RS256"}), leeway_s=leeway_s),
                         parse_api_keys(api_keys), ClaimNames())


def token(**kw) -> str:
    return ISSUER.token(**{"sub": "alice", "tenant": "tenant-a", "roles": ["biller"], **kw})


async def rejected(auth: Authenticator, bearer: str | None, api_key: str | None = None) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        await auth.authenticate(bearer, api_key)
    assert bearer is None or bearer not in str(caught.value)  # never echoed
    return caught.value


# ---------------------------------------------------------------- tokens
async def test_a_good_token_becomes_a_principal():
    p = await authenticator().authenticate(token(roles=["biller", "coder", "someone-elses-role"]), None)
    assert (p.subject, p.tenant_id, p.issuer) == ("alice", "tenant-a", ISSUER.issuer)
    assert p.roles == {Role.BILLER, Role.CODER}  # roles of other applications grant nothing
    assert p.client_id.startswith("jwt:") and "alice" not in p.client_id


async def test_roles_may_be_one_space_separated_string():
    p = await authenticator().authenticate(token(rcm_roles="coder analyst"), None)
    assert p.roles == {Role.CODER, Role.ANALYST}


async def test_no_credentials_is_an_invalid_request():
    exc = await rejected(authenticator(), None)
    assert exc.error == "invalid_request" and 'error="invalid_request"' in exc.www_authenticate()


async def test_an_expired_token_is_refused_but_not_within_the_leeway():
    auth = authenticator(leeway_s=30)
    exc = await rejected(auth, token(now=time.time() - 3600, ttl_s=3540))  # expired 60 s ago
    assert str(exc) == "token expired" and exc.error == "invalid_token"
    p = await auth.authenticate(token(now=time.time() - 3600, ttl_s=3590), None)  # 10 s ago: clock skew
    assert p.subject == "alice"


async def test_a_token_not_valid_yet_is_refused():
    exc = await rejected(authenticator(leeway_s=30), token(nbf=int(time.time()) + 300))
    assert "not valid yet" in str(exc)
    assert (await authenticator(leeway_s=30).authenticate(token(nbf=int(time.time()) + 10), None)).subject == "alice"


async def test_a_forged_signature_is_refused():
    forger = LocalIssuer(LocalIssuer.generate().private_key, kid=ISSUER.kid)  # same kid, another key
    exc = await rejected(authenticator(), forger.token(sub="mallory", tenant="tenant-a", roles=["admin"]))
    assert str(exc) == "token signature invalid"


async def test_a_tampered_payload_is_refused():
    header, _payload, sig = token().split(".")
    claims = jwt.decode(token(), options={"verify_signature": False})
    forged = jwt.utils.base64url_encode(json.dumps({**claims, "rcm_roles": ["admin"]}).encode()).decode()
    assert str(await rejected(authenticator(), f"{header}.{forged}.{sig}")) == "token signature invalid"


async def test_an_unknown_kid_refetches_the_jwks_once_then_is_refused():
    jwks, clock = Jwks(ISSUER), Clock()
    auth = authenticator(jwks, clock=clock)
    await auth.authenticate(token(), None)
    assert jwks.fetches == 1
    stranger = LocalIssuer.generate()
    clock.t += 61  # past the refetch interval
    assert str(await rejected(auth, stranger.token(sub="x", tenant="tenant-a", roles=[]))) == \
        "token signing key unknown to its issuer"
    assert jwks.fetches == 2
    await rejected(auth, stranger.token(sub="x", tenant="tenant-a", roles=[]))
    await rejected(auth, stranger.token(sub="y", tenant="tenant-a", roles=[]))
    assert jwks.fetches == 2  # forged kids do not make us hammer the issuer


async def test_a_rotated_key_is_found_by_refetching():
    rotated = LocalIssuer.generate()
    jwks, clock = Jwks(ISSUER), Clock()
    auth = authenticator(jwks, clock=clock)
    await auth.authenticate(token(), None)
    jwks.doc = Jwks(ISSUER, rotated).doc  # the issuer publishes its next key
    clock.t += 61
    assert (await auth.authenticate(rotated.token(sub="bob", tenant="tenant-a", roles=[]), None)).subject == "bob"
    assert jwks.fetches == 2


async def test_the_key_set_is_fetched_again_after_its_ttl():
    jwks, clock = Jwks(ISSUER), Clock()
    auth = authenticator(jwks, clock=clock)
    await auth.authenticate(token(), None)
    await auth.authenticate(token(), None)
    assert jwks.fetches == 1
    clock.t += 3601
    await auth.authenticate(token(), None)
    assert jwks.fetches == 2


async def test_a_token_of_another_issuer_is_refused():
    exc = await rejected(authenticator(), token(iss="https://idp.example.com/"))
    assert str(exc) == "token issuer not trusted"


async def test_a_token_for_another_audience_is_refused():
    assert str(await rejected(authenticator(), token(aud="another-api"))) == "token audience not accepted"


async def test_alg_none_is_refused():
    claims = jwt.decode(token(), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert "algorithm not accepted" in str(await rejected(authenticator(), unsigned))


async def test_hs256_signed_with_the_public_key_is_refused():
    claims = jwt.decode(token(), options={"verify_signature": False})
    public_pem = ISSUER.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    # PyJWT itself refuses to HMAC with a PEM key; build the token by hand, as an attacker would
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "kid": ISSUER.kid}).encode())
    body = jwt.utils.base64url_encode(json.dumps(claims).encode())
    import hashlib
    import hmac
    sig = jwt.utils.base64url_encode(hmac.new(public_pem, header + b"." + body, hashlib.sha256).digest())
    forged = (header + b"." + body + b"." + sig).decode()
    assert "algorithm not accepted" in str(await rejected(authenticator(), forged))


async def test_an_rs256_token_needs_an_rsa_key():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwks = Jwks(ISSUER)
    jwks.doc = {"keys": [*jwks.doc["keys"], {**jwk, "kid": "rsa1", "alg": "RS256"}]}
    claims = {"iss": ISSUER.issuer, "sub": "svc", "aud": "openrcm", "exp": int(time.time()) + 60,
              "rcm_tenant": "tenant-a", "rcm_roles": ["integrator"]}
    good = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "rsa1"})
    assert (await authenticator(jwks).authenticate(good, None)).roles == {Role.INTEGRATOR}
    # an RS256 header naming the EC key: refused before any signature math
    mismatched = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": ISSUER.kid})
    assert str(await rejected(authenticator(jwks), mismatched)) == "token algorithm does not match its signing key"


async def test_a_symmetric_key_in_the_jwks_is_never_used():
    jwks = Jwks()
    jwks.doc = {"keys": [{"kty": "oct", "kid": "k1", "k": jwt.utils.base64url_encode(b"s" * 32).decode()}]}
    claims = jwt.decode(token(), options={"verify_signature": False})
    forged = jwt.encode(claims, b"s" * 32, algorithm="HS256", headers={"kid": "k1"})
    await rejected(authenticator(jwks), forged)


@pytest.mark.parametrize("drop, reason", [("sub", "token lacks the 'sub' claim"),
                                          ("exp", "token lacks the 'exp' claim"),
                                          ("rcm_tenant", "token lacks a valid 'rcm_tenant' (tenant) claim")])
async def test_a_token_without_a_required_claim_is_refused(drop, reason):
    claims = jwt.decode(token(), options={"verify_signature": False})
    del claims[drop]
    unsigned = jwt.encode(claims, ISSUER.private_key, algorithm="ES256", headers={"kid": ISSUER.kid})
    assert str(await rejected(authenticator(), unsigned)) == reason


async def test_a_malformed_token_or_tenant_is_refused():
    assert str(await rejected(authenticator(), "not.a.jwt")) == "malformed token"
    assert "tenant" in str(await rejected(authenticator(), token(tenant="../other tenant")))
    assert "'sub'" in str(await rejected(authenticator(), token(sub="x" * 201)))


async def test_without_an_issuer_bearer_tokens_are_refused():
    auth = Authenticator(None, {}, ClaimNames())
    assert "no token issuer" in str(await rejected(auth, token()))


def test_only_asymmetric_algorithms_can_be_configured():
    assert asymmetric_algorithms(["RS256", " ES256"]) == {"RS256", "ES256"}
    for bad in (["HS256"], ["none"], ["RS256", "HS512"], []):
        with pytest.raises(ValueError, match="asymmetric"):
            asymmetric_algorithms(bad)


async def test_a_file_jwks_is_read_from_disk(tmp_path):
    ISSUER.save(tmp_path)
    fetch = jwks_fetcher((tmp_path / "jwks.json").as_uri(), None)
    assert (await fetch())["keys"][0]["kid"] == ISSUER.kid
    with pytest.raises(ValueError, match="scheme"):
        jwks_fetcher("ftp://idp/jwks", None)


def test_issuers_are_read_from_settings():
    s = ServiceSettings(service_name="x", db_schema="x",
                        auth_issuers="urn:openrcm:dev-issuer=file:///a/jwks.json, https://idp/=https://idp/jwks?v=1")
    assert s.auth_issuer_jwks() == {"urn:openrcm:dev-issuer": "file:///a/jwks.json",
                                    "https://idp/": "https://idp/jwks?v=1"}
    with pytest.raises(ValueError, match="issuer=jwks_url"):
        ServiceSettings(service_name="x", db_schema="x", auth_issuers="no-url").auth_issuer_jwks()


# ---------------------------------------------------------------- API keys
async def test_an_api_key_is_looked_up_by_its_hash():
    key, entry = new_api_key("tenant-b", ["integrator", "biller"])
    assert key not in entry and digest(key) in entry
    auth = authenticator(api_keys=entry)
    p = await auth.authenticate(None, key)
    assert (p.tenant_id, p.roles, p.issuer) == ("tenant-b", {Role.INTEGRATOR, Role.BILLER}, None)
    assert p.subject == p.client_id == f"apikey:{digest(key)[:8]}"
    assert str(await rejected(auth, None, key + "x")) == "unknown API key"
    assert "not both" in str(await rejected(auth, token(), key))


@pytest.mark.parametrize("text, message", [
    ("sha256:abc=t:admin", "entry 1 is not"),
    (f"sha256:{'a' * 64}=t:admin,plaintext-key:t", "entry 2 is not"),
    (f"sha256:{'a' * 64}=t:root", "entry 1: unknown role 'root'"),
    (f"sha256:{'a' * 64}=t:admin,sha256:{'a' * 64}=u:coder", "entry 2 repeats"),
])
def test_malformed_api_key_settings_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_api_keys(text)


def test_api_key_settings_never_quote_the_entry():
    with pytest.raises(ValueError) as caught:
        parse_api_keys("my-secret-plaintext-key=tenant-a:admin")
    assert "my-secret" not in str(caught.value)


# ---------------------------------------------------------------- roles and permissions
ACCESS = AccessMap("demo", read={"claims.read": [Role.BILLER, Role.ANALYST]},
                   write={"claims.hold": [Role.BILLER], "settings.write": []})


@pytest.mark.parametrize("roles, permission, allowed", [
    ({Role.BILLER}, "claims.read", True),
    ({Role.BILLER}, "claims.hold", True),
    ({Role.ANALYST}, "claims.hold", False),
    ({Role.AUDITOR}, "claims.read", True),  # auditors read everything
    ({Role.AUDITOR}, "claims.hold", False),  # and change nothing
    ({Role.ADMIN}, "settings.write", True),  # admin holds every permission
    ({Role.BILLER}, "settings.write", False),
    ({Role.PATIENT}, "claims.read", False),
    (set(), "claims.read", False),
    ({Role.CODER, Role.ANALYST}, "claims.read", True),  # any one role suffices
])
def test_role_permission_decisions(roles, permission, allowed):
    assert ACCESS.allows(roles, permission) is allowed


def test_an_unknown_permission_is_a_wiring_bug():
    with pytest.raises(KeyError, match="claims.delete"):
        ACCESS.roles_for("claims.delete")
    with pytest.raises(ValueError, match="both read and write"):
        AccessMap("x", read={"a": []}, write={"a": []})


def test_forbidden_names_the_permission_and_its_roles():
    exc = Forbidden("claims.hold", ACCESS.roles_for("claims.hold"))
    assert str(exc) == "needs permission 'claims.hold' (held by roles: admin, biller)"
    assert 'error="insufficient_scope"' in exc.www_authenticate()


def test_role_names():
    assert parse_roles(["coder", "admin"]) == {Role.CODER, Role.ADMIN}
    with pytest.raises(ValueError, match="unknown role"):
        parse_roles(["superuser"])
    assert known_roles(["coder", 7, "superuser"]) == {Role.CODER}
    assert {r.value for r in Role} >= {"front_desk", "coder", "biller", "denial_specialist", "patient_billing_agent",
                                       "analyst", "auditor", "integrator", "patient", "admin"}


# ---------------------------------------------------------------- the development issuer
async def test_dev_issuer_cli_writes_keys_and_mints_tokens(tmp_path, capsys):
    assert dev_issuer_main(["keys", str(tmp_path)]) == 0
    setting = capsys.readouterr().out.strip()
    assert setting.startswith("urn:openrcm:dev-issuer=file://")
    assert (tmp_path / "issuer-key.pem").stat().st_mode & 0o077 == 0  # the private key is the owner's only
    dev_issuer_main(["keys", str(tmp_path)])  # kept: tokens minted before stay valid
    assert capsys.readouterr().out.strip() == setting
    dev_issuer_main(["token", "--dir", str(tmp_path), "--tenant", "demo", "--roles", "biller", "--sub", "alice"])
    minted = capsys.readouterr().out.strip()
    s = ServiceSettings(service_name="x", db_schema="x", auth_issuers=setting)
    p = await Authenticator.from_settings(s).authenticate(minted, None)
    assert (p.subject, p.tenant_id, p.roles) == ("alice", "demo", {Role.BILLER})
    with pytest.raises(ValueError, match="unknown role"):
        dev_issuer_main(["token", "--dir", str(tmp_path), "--tenant", "demo", "--roles", "boss", "--sub", "a"])


async def test_an_unreachable_issuer_is_an_outage_and_a_failed_refetch_keeps_the_known_keys():
    from rcm_runtime.errors import TransientError

    class Flaky(Jwks):
        up = False

        async def __call__(self) -> dict:
            self.fetches += 1
            if not self.up:
                raise TransientError("issuer JWKS unavailable (ConnectError)")
            return self.doc

    jwks, clock = Flaky(ISSUER), Clock()
    auth = authenticator(jwks, clock=clock)
    with pytest.raises(TransientError):  # the app answers 503: retry later, not "your token is bad"
        await auth.authenticate(token(), None)
    jwks.up = True
    clock.t += 61
    assert (await auth.authenticate(token(), None)).subject == "alice"
    jwks.up = False
    clock.t += 3601  # the key set is due for a refetch and the issuer is down: the known keys still verify
    assert (await auth.authenticate(token(), None)).subject == "alice"
