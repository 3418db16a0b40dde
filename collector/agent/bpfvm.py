"""A classic-BPF interpreter, so pcap replay applies the very program the kernel runs live.

Only what the assembler in `bpf` emits plus the usual loads is supported; anything else raises
ValueError at load time. An out-of-bounds packet load ends the program with 0, as in the kernel.
"""

from __future__ import annotations

from collections.abc import Callable

from collector.agent import bpf
from collector.agent.bpf import Insn

_M32 = 0xFFFFFFFF
_ALU: dict[int, Callable[[int, int], int]] = {
    bpf.ADD: lambda a, b: a + b,
    bpf.SUB: lambda a, b: a - b,
    bpf.MUL: lambda a, b: a * b,
    bpf.DIV: lambda a, b: a // b,
    bpf.MOD: lambda a, b: a % b,
    bpf.OR: lambda a, b: a | b,
    bpf.AND: lambda a, b: a & b,
    bpf.LSH: lambda a, b: a << (b & 31),
    bpf.RSH: lambda a, b: a >> (b & 31),
    bpf.XOR: lambda a, b: a ^ b,
}
_SIZES = {bpf.W: 4, bpf.H: 2, bpf.B: 1}


class _OutOfBounds(Exception):
    pass


def _load(data: bytes, offset: int, size: int, *, protocol: int, pkttype: int) -> int:
    if offset == bpf.SKF_AD_PROTOCOL:
        return protocol
    if offset == bpf.SKF_AD_PKTTYPE:
        return pkttype
    if offset < 0 or offset + size > len(data):
        raise _OutOfBounds
    return int.from_bytes(data[offset : offset + size], "big")


def run(program: list[Insn], data: bytes, *, protocol: int, pkttype: int = 0) -> int:
    """Run `program` on `data` (starting at the network header); returns the snap length."""
    a = x = 0
    mem = [0] * 16
    pc = 0
    try:
        while True:
            code, jt, jf, k = program[pc]
            pc += 1
            cls = code & 0x07
            if cls == bpf.RET:
                return (a if code & bpf.RET_A else k) & _M32
            if cls == bpf.JMP:
                if code & 0xF0 == bpf.JA:
                    pc += k
                    continue
                operand = x if code & bpf.X else k
                pc += jt if _jump_taken(code & 0xF0, a, operand) else jf
            elif cls == bpf.ALU:
                op = code & 0xF0
                operand = x if code & bpf.X else k
                if op in (bpf.DIV, bpf.MOD) and operand == 0:
                    return 0  # the kernel ends the program on division by zero
                a = (-a if op == bpf.NEG else _ALU[op](a, operand)) & _M32
            elif cls in (bpf.LD, bpf.LDX):
                value = _ld(code, k, x, mem, data, protocol=protocol, pkttype=pkttype)
                if cls == bpf.LD:
                    a = value
                else:
                    x = value
            elif cls == bpf.ST:
                mem[k] = a
            elif cls == bpf.STX:
                mem[k] = x
            elif cls == bpf.MISC:
                if code & 0xF8 == bpf.TAX:
                    x = a
                else:
                    a = x
    except _OutOfBounds:
        return 0


def _jump_taken(op: int, a: int, operand: int) -> bool:
    if op == bpf.JEQ:
        return a == operand
    if op == bpf.JGT:
        return a > operand
    if op == bpf.JGE:
        return a >= operand
    if op == bpf.JSET:
        return bool(a & operand)
    raise ValueError(f"unsupported jump 0x{op:02x}")


def _ld(
    code: int, k: int, x: int, mem: list[int], data: bytes, *, protocol: int, pkttype: int
) -> int:
    mode = code & 0xE0
    if mode == bpf.IMM:
        return k
    if mode == bpf.MEM:
        return mem[k]
    if mode == bpf.LEN:
        return len(data)
    size = _SIZES[code & 0x18]
    if mode == bpf.ABS:
        return _load(data, k, size, protocol=protocol, pkttype=pkttype)
    if mode == bpf.IND:
        return _load(data, (x + k) & _M32, size, protocol=protocol, pkttype=pkttype)
    if mode == bpf.MSH:
        return (_load(data, k, 1, protocol=protocol, pkttype=pkttype) & 0x0F) * 4
    raise ValueError(f"unsupported load 0x{code:02x}")
