"""The development CA's certificates are accepted by a verifying TLS client and server (Python's ssl module,
the same OpenSSL that asyncpg, aiokafka and uvicorn use)."""

from __future__ import annotations

import socket
import ssl
import threading

from rcm_runtime import dev_ca


def test_a_server_certificate_is_verified_by_the_ca_and_a_client_certificate_is_accepted(tmp_path):
    server = dev_ca.ensure_cert(tmp_path, "kafka", ["127.0.0.1", "localhost"])
    client = dev_ca.ensure_cert(tmp_path, "charges", client=True)

    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(server.ca))
    server_ctx.load_cert_chain(server.cert, server.key)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.create_default_context(cafile=str(client.ca))
    client_ctx.load_cert_chain(client.cert, client.key)

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen = {}

    def serve():
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            seen["client_cn"] = dict(x[0] for x in tls.getpeercert()["subject"])["commonName"]
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve)
    thread.start()
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.recv(2) == b"ok"
    thread.join(5)
    listener.close()
    assert seen["client_cn"] == "charges"


def test_certificates_are_kept_while_valid_and_remade_when_the_ca_changes(tmp_path):
    first = dev_ca.ensure_cert(tmp_path, "postgres").cert.read_bytes()
    assert dev_ca.ensure_cert(tmp_path, "postgres").cert.read_bytes() == first
    (tmp_path / "ca.pem").unlink()
    assert dev_ca.ensure_cert(tmp_path, "postgres").cert.read_bytes() != first
    assert (tmp_path / "postgres-key.pem").stat().st_mode & 0o777 == 0o600


def test_a_host_name_the_certificate_does_not_name_is_refused(tmp_path):
    server = dev_ca.ensure_cert(tmp_path, "db", ["127.0.0.1"])
    ctx = ssl.create_default_context(cafile=str(server.ca))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(server.cert, server.key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        conn, _ = listener.accept()
        try:
            server_ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port)) as raw:
            try:
                ctx.wrap_socket(raw, server_hostname="other.example")
                raised = False
            except ssl.SSLCertVerificationError:
                raised = True
    finally:
        thread.join(5)
        listener.close()
    assert raised


def test_mllp_client_names_the_tenant_in_cn_and_san_uri(tmp_path, capsys):
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    dev_ca.main(["mllp-client", str(tmp_path), "--tenant", "tenant-a"])
    cert_path, key_path = capsys.readouterr().out.split()
    cert = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "integrator-tenant-a"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:openrcm:tenant:tenant-a"]
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]
    assert key_path.endswith("integrator-tenant-a-key.pem")
