"""A small classic-BPF assembler and the agent's kernel prefilter (no libpcap needed).

The filter runs on SOCK_DGRAM packet sockets, so the packet starts at the network header and
the EtherType comes from the skb (`SKF_AD_PROTOCOL`) whatever the link layer: Ethernet, VLAN
offloaded, TUN. Only what can carry IOAM reaches user space: IPv6 whose first next header is
Hop-by-Hop (0) or Destination Options (60), and GTP-U G-PDUs (UDP 2152, IPv4 or IPv6 outer, up to
three GTP-U extension headers) whose inner IPv6 starts with one of those. Outgoing packets are
dropped in the kernel too.
"""

from __future__ import annotations

import ctypes
import socket
import struct
from dataclasses import dataclass
from typing import NamedTuple

# instruction classes, sizes, modes, operations (linux/filter.h)
LD, LDX, ST, STX, ALU, JMP, RET, MISC = range(8)
W, H, B = 0x00, 0x08, 0x10
IMM, ABS, IND, MEM, LEN, MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0,
)  # fmt: skip
JA, JEQ, JGT, JGE, JSET = 0x00, 0x10, 0x20, 0x30, 0x40
K, X = 0x00, 0x08
RET_A = 0x10
TAX, TXA = 0x00, 0x80

SKF_AD_OFF = 0xFFFFF000  # -0x1000 as u32
SKF_AD_PROTOCOL = SKF_AD_OFF + 0
SKF_AD_PKTTYPE = SKF_AD_OFF + 4
SO_ATTACH_FILTER = 26
PACKET_OUTGOING = 4
GTPU_PORT = 2152
MAX_GTP_EXTENSIONS = 3


class Insn(NamedTuple):
    """One encoded instruction: struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}."""

    code: int
    jt: int
    jf: int
    k: int


@dataclass(frozen=True, slots=True)
class _Op:
    code: int
    k: int | str = 0
    jt: str | None = None
    jf: str | None = None


class Assembler:
    """Collects instructions with symbolic labels; `assemble` resolves the forward jumps."""

    def __init__(self) -> None:
        self._ops: list[_Op] = []
        self._labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        self._labels[name] = len(self._ops)

    def op(self, code: int, k: int = 0) -> None:
        self._ops.append(_Op(code, k))

    def jump(self, code: int, k: int, jt: str | None, jf: str | None) -> None:
        """A conditional jump; a None target means the next instruction."""
        self._ops.append(_Op(code, k, jt, jf))

    def goto(self, target: str) -> None:
        self._ops.append(_Op(JMP | JA, target))

    def assemble(self) -> list[Insn]:
        out = []
        for i, op in enumerate(self._ops):
            k = self._rel(i, op.k) if isinstance(op.k, str) else op.k
            jt = 0 if op.jt is None else self._rel(i, op.jt)
            jf = 0 if op.jf is None else self._rel(i, op.jf)
            if jt > 255 or jf > 255:
                raise ValueError("conditional jump beyond 255 instructions")
            out.append(Insn(op.code, jt, jf, k & 0xFFFFFFFF))
        return out

    def _rel(self, here: int, label: str) -> int:
        offset = self._labels[label] - here - 1
        if offset < 0:
            raise ValueError(f"backward jump to {label!r}: classic BPF jumps only forward")
        return offset


def _gtp_extensions(a: Assembler) -> None:
    """Walk up to MAX_GTP_EXTENSIONS extension headers; X points at the first one."""
    for _ in range(MAX_GTP_EXTENSIONS):
        a.op(LD | B | IND, 0)  # length in 4-octet units
        a.jump(JMP | JEQ | K, 0, "drop", None)
        a.op(ALU | LSH | K, 2)
        a.op(ST, 1)
        a.op(MISC | TXA)
        a.op(LDX | MEM, 1)
        a.op(ALU | ADD | X)
        a.op(ALU | SUB | K, 1)
        a.op(MISC | TAX)  # X = the next-extension-type byte
        a.op(LD | B | IND, 0)
        a.op(ST, 2)
        a.op(MISC | TXA)
        a.op(ALU | ADD | K, 1)
        a.op(MISC | TAX)
        a.op(LD | MEM, 2)
        a.jump(JMP | JEQ | K, 0, "inner", None)
    a.goto("drop")


def ioam_filter(snaplen: int) -> list[Insn]:
    """The prefilter: returns `snaplen` for packets that may carry IOAM, 0 for the rest."""
    a = Assembler()
    a.op(LD | W | ABS, SKF_AD_PKTTYPE)
    a.jump(JMP | JEQ | K, PACKET_OUTGOING, "drop", None)
    a.op(LD | W | ABS, SKF_AD_PROTOCOL)
    a.jump(JMP | JEQ | K, 0x86DD, "v6", None)
    a.jump(JMP | JEQ | K, 0x0800, "v4", "drop")
    _outer(a)
    _gtp_header(a)
    a.label("inner")  # X = offset of the inner IP header
    a.op(LD | B | IND, 0)
    a.op(ALU | AND | K, 0xF0)
    a.jump(JMP | JEQ | K, 0x60, None, "drop")
    a.op(LD | B | IND, 6)
    a.jump(JMP | JEQ | K, 0, "accept", None)
    a.jump(JMP | JEQ | K, 60, "accept", "drop")
    a.label("accept")
    a.op(RET | K, snaplen)
    a.label("drop")
    a.op(RET | K, 0)
    return a.assemble()


def _outer(a: Assembler) -> None:
    """IPv6 with Hop-by-Hop/DestOpt is accepted; IPv6 or IPv4 UDP goes on to `udp` with X set."""
    a.label("v6")
    a.op(LD | B | ABS, 6)
    a.jump(JMP | JEQ | K, 0, "accept", None)
    a.jump(JMP | JEQ | K, 60, "accept", None)
    a.jump(JMP | JEQ | K, 17, None, "drop")
    a.op(LDX | IMM, 40)
    a.goto("udp")
    a.label("v4")
    a.op(LD | B | ABS, 9)
    a.jump(JMP | JEQ | K, 17, None, "drop")
    a.op(LD | H | ABS, 6)
    a.jump(JMP | JSET | K, 0x1FFF, "drop", None)  # a non-first fragment has no UDP header
    a.op(LDX | B | MSH, 0)  # X = IPv4 header length


def _gtp_header(a: Assembler) -> None:
    """X = offset of the UDP header; leaves X at the inner packet of a G-PDU or drops."""
    a.label("udp")
    a.op(LD | H | IND, 2)
    a.jump(JMP | JEQ | K, GTPU_PORT, None, "drop")
    a.op(LD | B | IND, 9)
    a.jump(JMP | JEQ | K, 0xFF, None, "drop")  # G-PDU
    a.op(LD | B | IND, 8)
    a.op(ST, 0)
    a.op(ALU | AND | K, 0xE0)
    a.jump(JMP | JEQ | K, 0x20, None, "drop")  # GTP version 1
    a.op(LD | MEM, 0)
    a.jump(JMP | JSET | K, 0x10, None, "drop")  # PT = 1 (GTP, not GTP')
    a.jump(JMP | JSET | K, 0x07, "long", None)
    a.op(MISC | TXA)
    a.op(ALU | ADD | K, 16)  # UDP 8 + GTP-U 8
    a.op(MISC | TAX)
    a.goto("inner")
    a.label("long")
    a.jump(JMP | JSET | K, 0x04, None, "noext")
    a.op(LD | B | IND, 19)  # next extension header type
    a.jump(JMP | JEQ | K, 0, "noext", None)
    a.op(MISC | TXA)
    a.op(ALU | ADD | K, 20)
    a.op(MISC | TAX)
    _gtp_extensions(a)
    a.label("noext")
    a.op(MISC | TXA)
    a.op(ALU | ADD | K, 20)  # UDP 8 + GTP-U 12
    a.op(MISC | TAX)


def encode(program: list[Insn]) -> bytes:
    return b"".join(struct.pack("=HBBI", *insn) for insn in program)


def attach(sock: socket.socket, program: list[Insn]) -> None:
    """SO_ATTACH_FILTER: the kernel copies the program, so the buffer may go afterwards."""
    code = ctypes.create_string_buffer(encode(program))
    fprog = struct.pack("HL", len(program), ctypes.addressof(code))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
