"""A development certificate authority for the local stack's TLS: one CA (EC P-256) and the certificates it signs
for the broker, the database, each service and each client principal. Production uses the organisation's PKI; the
services only ever see a CA bundle, a certificate and a key.

    python -m rcm_runtime.dev_ca ensure .stack/tls --name kafka --hosts 127.0.0.1,localhost
    python -m rcm_runtime.dev_ca ensure .stack/tls --name charges --client
    python -m rcm_runtime.dev_ca ensure .stack/tls --name postgres --name charges    (several at once)
    python -m rcm_runtime.dev_ca mllp-client .stack/tls --tenant tenant-a
        an HL7 interface engine's client certificate for charges' MLLP listener: CN integrator-<tenant> and the
        subject alternative name URI urn:openrcm:tenant:<tenant> (rcm_charges.mllp reads the tenant from it)

Files in the directory (made once and kept while valid; keys 0600):
    ca.pem, ca-key.pem            the authority
    <name>.pem, <name>-key.pem    a certificate (leaf then CA) and its unencrypted PKCS#8 key
    <name>-bundle.pem             key then certificate chain in one file (Kafka's PEM keystore reads this)
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "ca"
CA_DAYS = 3650
LEAF_DAYS = 825  # the most public clients accept for a server certificate
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path
    bundle: Path
    ca: Path


def _write(path: Path, data: bytes, *, private: bool) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _valid(cert_path: Path, now: dt.datetime) -> bool:
    if not cert_path.exists():
        return False
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.not_valid_after_utc - RENEW_BEFORE > now


def ensure_ca(directory: Path | str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = d / f"{CA_NAME}.pem", d / f"{CA_NAME}-key.pem"
    now = dt.datetime.now(dt.timezone.utc)
    if _valid(cert_path, now) and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenRCM development"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "OpenRCM development CA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), private=False)
    return cert, key


def ensure_cert(directory: Path | str, name: str, hosts: Iterable[str] = ("127.0.0.1", "localhost"), *,
                client: bool = False, uris: Iterable[str] = ()) -> Issued:
    """A certificate for `name` signed by the directory's CA: a server certificate for `hosts` (subject alternative
    names), also usable as a client certificate; with client=True a client certificate only (CN = name)."""
    d = Path(directory)
    ca_cert, ca_key = ensure_ca(d)
    cert_path, key_path, bundle_path = d / f"{name}.pem", d / f"{name}-key.pem", d / f"{name}-bundle.pem"
    issued = Issued(cert_path, key_path, bundle_path, d / f"{CA_NAME}.pem")
    now = dt.datetime.now(dt.timezone.utc)
    if _valid(cert_path, now) and key_path.exists() and bundle_path.exists() and _signed_by(cert_path, ca_cert):
        return issued
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH,
                                                                ExtendedKeyUsageOID.CLIENT_AUTH]
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenRCM development"),
                                        x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    uris = list(uris)
    if client and uris:  # a client certificate naming what it acts for (e.g. the MLLP listener's tenant)
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.UniformResourceIdentifier(u) for u in uris]), critical=False)
    if not client:
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, chain, private=False)
    _write(bundle_path, _key_pem(key) + chain, private=True)
    return issued


def _signed_by(cert_path: Path, ca_cert: x509.Certificate) -> bool:
    """Whether the certificate was issued by this CA (a CA made anew invalidates every older certificate)."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        return False
    return cert.issuer == ca_cert.subject and aki == x509.SubjectKeyIdentifier.from_public_key(
        ca_cert.public_key()).digest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rcm_runtime.dev_ca", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    ensure = sub.add_parser("ensure", help="make the CA and a certificate for NAME unless they exist and are valid")
    ensure.add_argument("dir")
    ensure.add_argument("--name", required=True, action="append", help="repeat for several certificates")
    ensure.add_argument("--hosts", default="127.0.0.1,localhost", help="server names, comma-separated")
    ensure.add_argument("--client", action="store_true", help="a client certificate only")
    mllp = sub.add_parser("mllp-client", help="an MLLP client certificate for TENANT (CN integrator-TENANT)")
    mllp.add_argument("dir")
    mllp.add_argument("--tenant", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "mllp-client":
        issued = ensure_cert(args.dir, f"integrator-{args.tenant}", client=True,
                             uris=[f"urn:openrcm:tenant:{args.tenant}"])
        print(issued.cert)
        print(issued.key)
        return
    hosts = [h.strip() for h in args.hosts.split(",") if h.strip()]
    for name in args.name:
        print(ensure_cert(args.dir, name, hosts, client=args.client).cert)


if __name__ == "__main__":
    main()
