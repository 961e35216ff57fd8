"""charges' MLLP listener on an ephemeral port, started by the app's own lifespan, against the real PostgreSQL,
spoken to over TLS with client certificates of a development CA naming the tenant."""

from __future__ import annotations

import asyncio
import ssl
import uuid

import pytest

from rcm_charges.app import create_app
from rcm_charges.db import metadata
from rcm_charges.mllp import MllpConfigError, MllpListener, tenant_of_certificate
from rcm_charges.settings import Settings
from rcm_runtime.dev_ca import ensure_cert
from tests.support.api import service_api
from tests.support.encounters import generate, to_hl7_dft
from tests.support.mllp import FS, VT, CR, MllpClient, ack_fields, client_context, tenant_cert
from tests.support.shared import sample_file

pytestmark = pytest.mark.integration

FAMILY = "Zyxwvutson"


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mllp-tls")
    ensure_cert(d, "charges")  # the service's server certificate
    return d


@pytest.fixture(scope="module")
def other_ca_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mllp-other-ca")
    tenant_cert(d, "tenant-a")  # a certificate naming tenant-a, but signed by a CA the listener does not trust
    return d


def tls_settings(tls_dir, **extra):
    return {"mllp_port": 0, "http_tls_cert_file": str(tls_dir / "charges.pem"),
            "http_tls_key_file": str(tls_dir / "charges-key.pem"), "mllp_client_ca_file": str(tls_dir / "ca.pem"),
            **extra}


@pytest.fixture
async def api(tls_dir):
    async with service_api(create_app, Settings, metadata, **tls_settings(tls_dir)) as api:
        yield api


def port_of(api) -> int:
    return api.app.state.runtime.services[MllpListener].port


async def connect(api, tls_dir, tenant: str | None = "tenant-a", cert=None) -> MllpClient:
    cert = cert or (tenant_cert(tls_dir, tenant) if tenant else ensure_cert(tls_dir, "no-tenant-here", client=True))
    return await MllpClient.connect(port_of(api), client_context(tls_dir / "ca.pem", cert))


def dft(seed: int, **changes) -> tuple[dict, str]:
    body = generate(1, seed=seed, scenarios=["paid"], run_id=uuid.uuid4().hex[:8])[0].body
    body.update(changes)
    return body, to_hl7_dft(body)


def msa(ack: str) -> list[str]:
    return ack_fields(ack)["MSA"][0]


def with_field(message: str, segment: str, n: int, value: str) -> str:
    """SEG-n of the first `segment` set to `value`."""
    out, done = [], False
    for line in message.strip("\r").split("\r"):
        fields = line.split("|")
        if fields[0] == segment and not done:
            done = True
            index = n - 1 if segment == "MSH" else n
            fields += [""] * (index + 1 - len(fields))
            fields[index] = value
            line = "|".join(fields)
        out.append(line)
    return "\r".join(out) + "\r"


# ---------------------------------------------------------------- DFT^P03
async def test_a_good_dft_is_captured_once_and_a_resend_gets_the_same_ack(api, tls_dir):
    body, message = dft(1)
    client = await connect(api, tls_dir)
    try:
        first = await client.send(message)
        again = await client.send(message)
    finally:
        await client.close()
    fields = ack_fields(first)
    assert msa(first) == ["MSA", "AA", body["source_encounter_id"]]
    msh = fields["MSH"][0]
    assert (msh[3], msh[4], msh[5], msh[9], msh[12]) == ("OPENRCM", "OPENRCM", body["source_system"],
                                                        "ACK^P03^ACK", "2.5.1")
    assert msh[6].startswith("DEMO^")  # the sender's facility, now the receiver
    assert again == first  # the very same ACK, control id included
    assert await api.scalar("SELECT count(*) FROM encounters") == 1
    assert await api.scalar("SELECT status FROM encounters") == "captured"
    assert await api.scalar("SELECT intake_channel FROM encounters") == "hl7v2"
    assert len(await api.outbox_events("encounter-captured")) == 1
    assert await api.scalar("SELECT count(*) FROM mllp_messages WHERE tenant_id = 'tenant-a'") == 1
    # audited in the capture's transaction, the certificate's subject as the actor (never PHI)
    row = await api.scalar("SELECT row_to_json(a) FROM audit_log a WHERE action = 'encounter.submit_mllp'")
    assert (row["actor"], row["actor_kind"], row["category"], row["outcome"]) == (
        "mllp:integrator-tenant-a", "certificate", "money", "allowed")
    assert row["resource_ids"] == [str(await api.scalar("SELECT claim_id FROM encounters"))]
    assert await api.scalar("SELECT count(*) FROM audit_log") == 1


async def test_the_same_control_id_for_a_different_message_is_refused(api, tls_dir):
    body, message = dft(2)
    other = with_field(message, "FT1", 11, "999.00")
    client = await connect(api, tls_dir)
    try:
        assert msa(await client.send(message))[1] == "AA"
        refused = await client.send(other)
    finally:
        await client.close()
    assert msa(refused)[:3] == ["MSA", "AR", body["source_encounter_id"]]
    [err] = ack_fields(refused)["ERR"]
    assert err[2] == "MSH^1^10" and err[3].startswith("205^")
    assert await api.scalar("SELECT count(*) FROM encounters") == 1
    assert await api.scalar("SELECT count(*) FROM mllp_messages") == 1


async def test_a_changed_resend_of_a_released_claim_under_a_new_control_id_is_an_application_error(api, tls_dir):
    _, message = dft(9)
    changed = with_field(with_field(message, "MSH", 10, "NEW-CONTROL-ID"), "FT1", 11, "999.00")
    client = await connect(api, tls_dir)
    try:
        assert msa(await client.send(message))[1] == "AA"
        ack = await client.send(changed)
        again = await client.send(changed)
    finally:
        await client.close()
    assert msa(ack)[:3] == ["MSA", "AE", "NEW-CONTROL-ID"] and again == ack
    assert "corrected claim" in ack_fields(ack)["ERR"][0][8]
    assert await api.scalar("SELECT count(*) FROM encounters") == 1
    assert await api.scalar("SELECT version FROM encounters") == 1  # the released claim is unchanged
    assert len(await api.outbox_events("encounter-captured")) == 1


async def test_an_application_error_names_the_field_without_phi(api, tls_dir):
    body, message = dft(3)
    bad = with_field(message, "FT1", 25, "NOTACODE^^CPT")
    bad = with_field(bad, "PID", 7, "19991399")
    client = await connect(api, tls_dir)
    try:
        ack = await client.send(bad)
        resent = await client.send(bad)
    finally:
        await client.close()
    assert msa(ack)[1] == "AE" and resent == ack
    errs = ack_fields(ack)["ERR"]
    assert {e[2] for e in errs} == {"FT1^1^25", "PID^1^7"}
    assert all(e[4] == "E" and e[8] for e in errs)
    assert FAMILY not in ack and body["patient"]["last_name"] not in ack and "19991399" not in ack
    assert await api.scalar("SELECT count(*) FROM encounters") == 0
    assert await api.scalar("SELECT ack_code FROM mllp_messages") == "AE"


async def test_a_failure_that_is_no_outage_is_answered_ae_and_a_resend_after_the_fix_is_taken(api, tls_dir, monkeypatch):
    """Without an answer the engine would resend the message forever and hold its queue: AE, nothing kept."""
    import rcm_charges.hl7_interface as interface

    async def broken(*args, **kwargs):
        raise RuntimeError("a bug in capture")

    real = interface.capture_encounters
    monkeypatch.setattr(interface, "capture_encounters", broken)
    body, message = dft(7)
    client = await connect(api, tls_dir)
    try:
        failed = await client.send(message)
        assert msa(failed)[:2] == ["MSA", "AE"] and "not taken" in failed and FAMILY not in failed
        assert await api.scalar("SELECT count(*) FROM mllp_messages") == 0
        monkeypatch.setattr(interface, "capture_encounters", real)
        taken = await client.send(message)
    finally:
        await client.close()
    assert msa(taken) == ["MSA", "AA", body["source_encounter_id"]]
    assert await api.scalar("SELECT count(*) FROM mllp_messages") == 1


async def test_an_invalid_performer_npi_is_accepted_and_held(api, tls_dir):
    _, message = dft(4)
    held = "\r".join(with_field(message, "FT1", 20, "a.doc@example.org^Doc^Ann^^^^^^^^^^NPI").split("\r"))
    client = await connect(api, tls_dir)
    try:
        ack = await client.send(held)
    finally:
        await client.close()
    assert msa(ack)[1] == "AA"  # taken: it waits in completeness review
    assert await api.scalar("SELECT status FROM encounters") == "held"
    missing = await api.scalar("SELECT missing FROM encounters")
    [issue] = [m for m in missing if m["field"] == "rendering_provider.npi"]  # why it is missing, with the HL7 field
    assert issue["reason"].startswith("FT1[1].20: ") and "10-digit NPI" in issue["reason"]
    assert "example.org" not in issue["reason"]
    assert len(await api.outbox_events("encounter-held")) == 1


# ---------------------------------------------------------------- refused
async def test_garbage_and_unknown_types_are_rejected_and_the_connection_goes_on(api, tls_dir):
    client = await connect(api, tls_dir)
    try:
        garbage = await client.send(b"\x00\x01 hello, this is not HL7")
        oru = await client.send("MSH|^~\\&|LAB|LABFAC|OPENRCM|OPENRCM|20261201||ORU^R01^ORU_R01|LAB-1|P|2.4\r"
                                "PID|1||MRN-9\rOBR|1")
        no_id = await client.send("MSH|^~\\&|LAB|LABFAC|OPENRCM|OPENRCM|20261201||DFT^P03||P|2.5\rPID|1")
        _, message = dft(5)
        await client.send_raw(b"junk between frames\r\n")
        good = await client.send(message)
    finally:
        await client.close()
    assert msa(garbage)[:3] == ["MSA", "AR", ""] and "MSH" in ack_fields(garbage)["ERR"][0][8]
    # v2.4: the text in MSA-3, the component separator in it escaped
    assert msa(oru) == ["MSA", "AR", "LAB-1", "message type not taken here: only DFT\\S\\P03, ADT\\S\\A04 and "
                                              "ADT\\S\\A08"]
    assert ack_fields(oru)["MSH"][0][9] == "ACK^R01^ACK" and ack_fields(oru)["MSH"][0][12] == "2.4"
    assert ack_fields(oru)["ERR"][0][1].startswith("MSH^1^9^200&")  # v2.4: ERR-1
    assert msa(no_id)[1] == "AR"
    assert msa(good)[1] == "AA"


async def test_a_certificate_naming_no_tenant_gets_ar_and_stores_nothing(api, tls_dir):
    _, message = dft(6)
    client = await connect(api, tls_dir, tenant=None)
    try:
        ack = await client.send(message)
    finally:
        await client.close()
    assert msa(ack)[1] == "AR" and "tenant" in ack_fields(ack)["ERR"][0][8]
    assert await api.scalar("SELECT count(*) FROM encounters") == 0


async def test_a_client_without_a_trusted_certificate_is_refused_and_others_go_on(api, tls_dir, other_ca_dir):
    untrusted = client_context(tls_dir / "ca.pem", tenant_cert(other_ca_dir, "tenant-a"))
    no_cert = client_context(tls_dir / "ca.pem", None)
    for ctx in (untrusted, no_cert):
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            c = await MllpClient.connect(port_of(api), ctx)
            await c.send(dft(7)[1], timeout=5)  # TLS 1.3 reports the refused certificate on the first read
    _, message = dft(8)
    client = await connect(api, tls_dir)
    try:
        assert msa(await client.send(message))[1] == "AA"
    finally:
        await client.close()
    assert await api.scalar("SELECT count(*) FROM encounters") == 1


# ---------------------------------------------------------------- connections
async def test_two_connections_at_once_each_get_their_acks_in_order(api, tls_dir):
    async def sender(seeds):
        client = await connect(api, tls_dir)
        try:
            acks = []
            for seed in seeds:
                body, message = dft(seed)
                acks.append((body["source_encounter_id"], await client.send(message)))
            return acks
        finally:
            await client.close()

    results = await asyncio.gather(sender(range(10, 15)), sender(range(20, 25)))
    for acks in results:
        assert [msa(ack)[1:3] for _, ack in acks] == [["AA", control_id] for control_id, _ in acks]
    assert await api.scalar("SELECT count(*) FROM encounters") == 10


async def test_the_same_message_on_two_connections_at_once_is_captured_once(api, tls_dir):
    _, message = dft(30)
    clients = [await connect(api, tls_dir) for _ in range(2)]
    try:
        acks = await asyncio.gather(*(c.send(message) for c in clients))
    finally:
        for c in clients:
            await c.close()
    assert acks[0] == acks[1] and msa(acks[0])[1] == "AA"
    assert await api.scalar("SELECT count(*) FROM encounters") == 1
    assert len(await api.outbox_events("encounter-captured")) == 1


async def test_a_half_sent_frame_loses_only_that_message(api, tls_dir):
    _, half = dft(40)
    body, whole = dft(41)
    cut = await connect(api, tls_dir)
    await cut.send_raw(VT + half.encode()[: len(half) // 2])
    await cut.close()  # closed mid-frame: no ACK, nothing captured
    client = await connect(api, tls_dir)
    try:
        assert msa(await client.send(whole))[:3] == ["MSA", "AA", body["source_encounter_id"]]
    finally:
        await client.close()
    assert await api.scalar("SELECT count(*) FROM encounters") == 1


async def test_an_oversized_frame_is_rejected_and_the_connection_goes_on(tls_dir):
    async with service_api(create_app, Settings, metadata,
                           **tls_settings(tls_dir, mllp_max_message_bytes=4096)) as api:
        body, message = dft(50)
        big = message + "NTE|1||" + "x" * 10_000 + "\r"
        client = await connect(api, tls_dir)
        try:
            refused = await client.send(big)
            taken = await client.send(message)
        finally:
            await client.close()
        assert msa(refused)[:3] == ["MSA", "AR", body["source_encounter_id"]]  # answered from the frame's MSH
        assert "larger" in ack_fields(refused)["ERR"][0][8]
        assert msa(taken)[1] == "AA"
        assert await api.scalar("SELECT count(*) FROM encounters") == 1


async def test_an_idle_connection_is_closed(tls_dir):
    async with service_api(create_app, Settings, metadata, **tls_settings(tls_dir, mllp_idle_timeout_s=0.5)) as api:
        client = await connect(api, tls_dir)
        try:
            assert await asyncio.wait_for(client.reader.read(), 10) == b""  # the listener closed it
        finally:
            await client.close()
        again = await connect(api, tls_dir)  # and still listens
        try:
            assert msa(await again.send(dft(51)[1]))[1] == "AA"
        finally:
            await again.close()


# ---------------------------------------------------------------- the public samples
@pytest.mark.parametrize("name, expected", [
    # FT1-21 carries an 8-digit id labelled NPI: taken, held for a person to supply the ordering provider
    ("iris_dft_p03_example_a.hl7", [("AA", "held")]),
    # no provider, no amount: taken and held in completeness review
    ("medplum_dft_p03_insurance.hl7", [("AA", "held")]),
    # ICD-9 diagnoses: application errors naming DG1-3
    ("mieweb_dft_example.hl7", [("AE", None), ("AE", None)]),
    ("iris_dft_p03_example_c_collapsed_segments.hl7", [("AE", None)]),
])
async def test_public_samples(api, tls_dir, name, expected):
    from rcm_charges.domain.hl7_dft import split_messages
    messages = split_messages(sample_file("hl7v2", name).read_text(encoding="utf-8"))
    client = await connect(api, tls_dir)
    try:
        acks = [await client.send(m) for m in messages]
    finally:
        await client.close()
    assert [msa(a)[1] for a in acks] == [code for code, _ in expected]
    for message, ack in zip(messages, acks):
        version = message.split("\r")[0].split("|")[11]
        assert ack_fields(ack)["MSH"][0][12] == version  # answered in the sender's version
    statuses = [s for _, s in expected if s]
    if statuses:
        assert await api.scalar("SELECT array_agg(status) FROM encounters") == statuses
    if name == "mieweb_dft_example.hl7":
        assert [e[2] for e in ack_fields(acks[0])["ERR"]] == ["DG1^1^3", "DG1^2^3"]  # v2.5: ERR-2


# ---------------------------------------------------------------- tenant and configuration
def test_the_tenant_comes_from_the_san_uri_else_the_integrator_cn():
    assert tenant_of_certificate({"subject": ((("commonName", "engine-1"),),),
                                  "subjectAltName": (("URI", "urn:openrcm:tenant:tenant-b"),)}) == ("tenant-b",
                                                                                                    "engine-1")
    assert tenant_of_certificate({"subject": ((("commonName", "integrator-tenant-c"),),)}) == ("tenant-c",
                                                                                               "integrator-tenant-c")
    assert tenant_of_certificate({"subject": ((("commonName", "charges"),),)}) == (None, "charges")
    assert tenant_of_certificate({"subject": ((("commonName", "integrator-a.b"),),)})[0] is None
    assert tenant_of_certificate(None) == (None, "")


async def test_plain_mllp_needs_a_configured_tenant():
    with pytest.raises(MllpConfigError):
        async with service_api(create_app, Settings, metadata, mllp_port=0):
            pass
    async with service_api(create_app, Settings, metadata, mllp_port=0, mllp_tenant="tenant-b") as api:
        body, message = dft(60)
        client = await MllpClient.connect(port_of(api))
        try:
            assert msa(await client.send(message))[1] == "AA"
        finally:
            await client.close()
        assert await api.scalar("SELECT tenant_id FROM encounters") == "tenant-b"


def test_framing_constants():
    assert (VT, FS, CR) == (b"\x0b", b"\x1c", b"\r")
