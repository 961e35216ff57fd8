"""MLLP framing (pure): whatever a peer sends, the decoder yields whole messages, junk counts and oversize
notices, and never grows past its limit."""

import random

import pytest

from rcm_charges.domain.mllp_frame import Frame, FrameDecoder, Junk, Oversized, encode

MSG = b"MSH|^~\\&|A|B|C|D|20260101||DFT^P03|1|P|2.5\rPID|1"


def frames(events):
    return [e.payload for e in events if isinstance(e, Frame)]


def test_encode_wraps_vt_fs_cr():
    assert encode(b"x") == b"\x0bx\x1c\r"


def test_one_frame_and_back_to_back_frames():
    d = FrameDecoder(1 << 20)
    assert d.feed(encode(MSG)) == [Frame(MSG)]
    assert frames(d.feed(encode(b"a") + encode(b"b"))) == [b"a", b"b"]
    assert d.pending() == 0


@pytest.mark.parametrize("seed", range(20))
def test_any_chunking_gives_the_same_frames(seed):
    rng = random.Random(seed)
    wire = b"".join(encode(MSG + str(i).encode()) for i in range(5))
    d, got, i = FrameDecoder(1 << 20), [], 0
    while i < len(wire):
        step = rng.randint(1, 7)
        got += frames(d.feed(wire[i:i + step]))
        i += step
    assert got == [MSG + str(i).encode() for i in range(5)]


def test_bytes_outside_a_frame_are_junk_and_the_next_frame_still_reads():
    d = FrameDecoder(1 << 20)
    events = d.feed(b"garbage\r\n" + encode(MSG) + b"xx")
    assert events == [Junk(9), Frame(MSG), Junk(2)]


def test_fs_without_cr_ends_the_frame_and_a_late_cr_is_not_junk():
    d = FrameDecoder(1 << 20)
    assert d.feed(b"\x0babc\x1c") == [Frame(b"abc")]
    assert d.feed(b"\r" + encode(b"def")) == [Frame(b"def")]


def test_a_new_vt_before_the_end_drops_the_unfinished_frame():
    d = FrameDecoder(1 << 20)
    events = d.feed(b"\x0bhalf-a-mess" + encode(b"whole"))
    assert events == [Junk(12), Frame(b"whole")]


def test_a_half_sent_frame_is_pending_never_a_message():
    d = FrameDecoder(1 << 20)
    assert d.feed(b"\x0bMSH|half") == []
    assert d.pending() == 8


def test_an_oversized_frame_is_reported_once_skipped_and_the_stream_goes_on():
    d = FrameDecoder(100)
    big = b"MSH|^~\\&|A" + b"x" * 500
    events = []
    for i in range(0, len(encode(big)), 64):
        events += d.feed(encode(big)[i:i + 64])
    events += d.feed(encode(b"small"))
    [over] = [e for e in events if isinstance(e, Oversized)]
    assert over.limit == 100 and over.head.startswith(b"MSH|^~\\&|A") and len(over.head) <= 1024
    assert frames(events) == [b"small"]
    assert len(d._buf) <= 100


def test_random_garbage_never_raises():
    rng = random.Random(7)
    d = FrameDecoder(256)
    for _ in range(300):
        d.feed(bytes(rng.choice(b"\x0b\x1c\rMSH|ab") for _ in range(rng.randint(0, 50))))
    assert len(d._buf) <= 256
