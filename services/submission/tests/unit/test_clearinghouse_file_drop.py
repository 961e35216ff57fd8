"""The file-drop (SFTP-style mailbox) adapter: atomic writes, oldest responses first, archiving."""

import os

from rcm_submission.clearinghouse import FileDropClearinghouse, OutboundFile


async def test_send_writes_the_interchange_atomically_under_its_name(tmp_path):
    ch = FileDropClearinghouse("box", tmp_path)
    await ch.send(OutboundFile("000000007.837", "ISA*...~"))
    await ch.send(OutboundFile("000000007.837", "ISA*...~"))  # a resend overwrites: one file per ISA13
    assert [p.name for p in ch.outbox.iterdir()] == ["000000007.837"]
    assert (ch.outbox / "000000007.837").read_text() == "ISA*...~"


async def test_receive_lists_visible_responses_oldest_first_and_done_archives_them(tmp_path):
    ch = FileDropClearinghouse("box", tmp_path)
    for i, name in enumerate(["b.277", "a.999", ".partial.tmp"]):
        path = ch.inbox / name
        path.write_text(name)
        os.utime(path, (1_000 + i, 1_000 + i))
    files = await ch.receive()
    assert [f.name for f in files] == ["b.277", "a.999"]  # in-flight (dot) files are not ready
    await ch.done(files[0])
    await ch.done(files[0])  # twice (another replica) is harmless
    assert [f.name for f in await ch.receive()] == ["a.999"]
    assert (ch.archive / "b.277").read_text() == "b.277"


async def test_a_file_name_cannot_escape_the_mailbox(tmp_path):
    ch = FileDropClearinghouse("box", tmp_path)
    await ch.send(OutboundFile("../../etc/x.837", "ISA~"))
    assert (ch.outbox / "x.837").exists() and not (tmp_path.parent / "etc").exists()
