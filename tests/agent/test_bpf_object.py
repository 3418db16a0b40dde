"""The committed eBPF object is what its source compiles to, the kernel's verifier accepts it,
and a program the verifier rejects gives an error that says so."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from collector.agent import libbpf
from collector.agent.ebpf import OBJECT, EbpfError, KernelCounters
from tests.conftest import ROOT, need_binary, need_root

SOURCE = OBJECT.with_suffix("").with_suffix(".c")


def test_committed_object_is_the_compiled_source(tmp_path: Path) -> None:
    need_binary("clang")
    out = tmp_path / "ioam_tc.bpf.o"
    subprocess.run(
        ["make", "--no-print-directory", "-s", "bpf", f"BPF_OBJ={out}"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    version = subprocess.run(["clang", "--version"], capture_output=True, text=True).stdout
    assert out.read_bytes() == OBJECT.read_bytes(), (
        f"{OBJECT.relative_to(ROOT)} is not what `make bpf` builds from {SOURCE.name} with "
        f"{version.splitlines()[0]}: run `make bpf` and commit the object"
    )


def test_the_object_names_its_license_and_sections() -> None:
    data = OBJECT.read_bytes()
    assert data[:4] == b"\x7fELF"
    for needle in (b"Apache-2.0", b"ioam_count", b".maps", b"license"):
        assert needle in data, needle


def test_verifier_accepts_the_program() -> None:
    need_root()
    kernel = KernelCounters([], 64)
    try:
        info = kernel.info()
        assert info.name == "ioam_count"
        assert 0 < info.verified_insns < 1_000_000  # the verifier's complexity limit
    finally:
        kernel.close()


BROKEN = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct counts_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u64);
} counts_a SEC(".maps"), counts_b SEC(".maps");
SEC("tc")
int ioam_count(struct __sk_buff *skb)
{
	__u8 *data = (__u8 *)(long)skb->data;
	return data[20]; /* no bounds check: the verifier must refuse */
}
char LICENSE[] SEC("license") = "Apache-2.0";
"""


def test_a_verifier_rejection_is_a_clear_error(tmp_path: Path) -> None:
    need_root()
    need_binary("clang")
    source = tmp_path / "broken.bpf.c"
    source.write_text(BROKEN)
    obj = tmp_path / "broken.bpf.o"
    include = subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout.strip()
    subprocess.run(
        ["clang", "-O2", "-g", "-target", "bpf", f"-I/usr/include/{include}-linux-gnu",
         "-c", str(source), "-o", str(obj)],
        check=True,
    )  # fmt: skip
    with pytest.raises(EbpfError) as caught:
        KernelCounters([], 64, object_path=obj)
    message = str(caught.value)
    assert "verifier rejected the eBPF program" in message
    assert "invalid access to packet" in message  # the verifier's own words are kept
    assert caught.value.reason == "load_failed"


def test_a_missing_object_is_a_clear_error(tmp_path: Path) -> None:
    need_root()
    with pytest.raises(EbpfError, match=r"could not be loaded.*No such file"):
        KernelCounters([], 64, object_path=tmp_path / "absent.o")


def test_libbpf_errors_name_the_call() -> None:
    need_root()
    with pytest.raises(libbpf.BpfError, match="bpf_map_update_elem: Bad file descriptor"):
        libbpf.map_update(99999, b"\0" * 4, b"\0" * 4)


def test_a_missing_libbpf_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(libbpf, "LIBRARY", "libbpf-absent.so.9")
    monkeypatch.setattr(libbpf, "_LIB", None)
    with pytest.raises(
        EbpfError, match=r"libbpf-absent.so.9 cannot be loaded.*install libbpf1"
    ) as e:
        KernelCounters([], 64)
    assert e.value.reason == "no_libbpf"
