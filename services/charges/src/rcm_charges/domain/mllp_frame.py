"""MLLP (Minimal Lower Layer Protocol, HL7 v2 over TCP) framing, pure: <VT> message <FS><CR>.

`FrameDecoder` is fed the bytes of one connection as they arrive and hands back what they held, in order:
`Frame` (one message's bytes, framing removed), `Junk` (bytes outside any frame: counted and dropped, the
connection goes on) and `Oversized` (a frame past the size limit: its bytes are dropped up to its end, so the
connection can go on with the next one). A frame still open when the peer closes is `pending()`: never a message.
Some senders end a frame with <FS> alone; the <CR> after <FS> is taken when it comes, even in the next chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

START = b"\x0b"  # VT
END = b"\x1c"  # FS
CR = b"\r"
HEAD = 1024


@dataclass(frozen=True)
class Frame:
    payload: bytes


@dataclass(frozen=True)
class Junk:
    size: int  # bytes seen outside a frame


@dataclass(frozen=True)
class Oversized:
    limit: int
    head: bytes = b""  # the frame's first bytes (its MSH, to answer in the sender's terms)


Event = Frame | Junk | Oversized


def encode(payload: bytes) -> bytes:
    """One message framed for the wire."""
    return START + payload + END + CR


class FrameDecoder:
    """Incremental: `feed(chunk)` returns the complete events found so far. Memory stays within `max_frame`
    (plus one chunk) whatever the peer sends."""

    __slots__ = ("max_frame", "_buf", "_in_frame", "_skipping", "_after_end", "_junk")

    def __init__(self, max_frame: int) -> None:
        if max_frame < 1:
            raise ValueError("max_frame must be positive")
        self.max_frame = max_frame
        self._buf = bytearray()
        self._in_frame = False
        self._skipping = False  # inside an oversized frame: dropping up to its <FS>
        self._after_end = False  # just closed a frame: a <CR> here belongs to it
        self._junk = 0

    def pending(self) -> int:
        """Bytes of a frame begun and not ended (a half-sent message when the connection closes now)."""
        return len(self._buf) if self._in_frame else 0

    def feed(self, chunk: bytes) -> list[Event]:
        out: list[Event] = []
        i, n = 0, len(chunk)
        while i < n:
            if self._after_end:
                self._after_end = False
                if chunk[i:i + 1] == CR:
                    i += 1
                    continue
            if not self._in_frame:
                start = chunk.find(START, i)
                stop = n if start < 0 else start
                self._junk += stop - i
                if start < 0:
                    break
                self._flush_junk(out)
                self._in_frame, self._skipping = True, False
                self._buf.clear()
                i = start + 1
                continue
            end = chunk.find(END, i)
            piece = chunk[i:] if end < 0 else chunk[i:end]
            restart = piece.find(START)
            if restart >= 0 and not self._skipping:
                # a new <VT> before the <FS>: the frame before it was never finished; its bytes are junk
                self._junk += len(self._buf) + restart + 1
                self._buf.clear()
                self._flush_junk(out)
                i += restart + 1
                continue
            if not self._skipping:
                if len(self._buf) + len(piece) > self.max_frame:
                    head = bytes((self._buf + piece[:HEAD])[:HEAD])
                    self._skipping = True
                    self._buf.clear()
                    out.append(Oversized(self.max_frame, head))
                else:
                    self._buf += piece
            if end < 0:
                break
            if not self._skipping:
                out.append(Frame(bytes(self._buf)))
            self._buf.clear()
            self._in_frame = self._skipping = False
            self._after_end = True
            i = end + 1
        self._flush_junk(out)
        return out

    def _flush_junk(self, out: list[Event]) -> None:
        if self._junk:
            out.append(Junk(self._junk))
            self._junk = 0
