"""A UE application: sends inference requests at a fixed rate and collects the answers.

Each application has its own IOAM namespace (its TraceID) set on its socket with IPV6_HOPOPTS,
so every uplink datagram carries an empty pre-allocated trace that RU, DU, CU and UPF fill.
"simple" sends a small payload and a short prompt; "complex" a large payload and long prompts.
At the end it writes what it sent and received (packets and IPv6 bytes), which the end-to-end
test compares with the agent's counters.

Run inside the UE namespace:
    python -m testbed.apps --app simple --server ADDR --port 5001 --namespace-id 101 ...
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from testbed.wire import (
    KIND_ANSWER,
    KIND_REQUEST,
    Assembler,
    chunks,
    encode_body,
    ipv6_length,
    set_hopopts,
)

_SENTENCE = (
    "radio unit baseband edge core network inference model energy carbon packet trace node "
    "latency throughput factory camera robot sensor image frame label defect pallet conveyor"
)
WORDS = _SENTENCE.split()


def make_texts(n: int, words: int, rng: random.Random) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(words)) for _ in range(n)]


class App:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.hbh = set_hopopts(self.sock, args.namespace_id, args.slots)
        self.sock.settimeout(0.5)
        self.stats: dict[str, Any] = {
            "app": args.app,
            "namespace_id": args.namespace_id,
            "requests_sent": 0,
            "answers": 0,
            "packets_sent": 0,
            "bytes_sent": 0,
            "packets_received": 0,
            "bytes_received": 0,
            "latency_seconds_sum": 0.0,
            "model": "",
        }
        self.sent_at: dict[int, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def send_loop(self) -> None:
        rng = random.Random(self.args.seed)
        period = 1.0 / self.args.rate
        if self.args.start_at:  # a phase's quiet lead: counters sampled after its edge first
            self.stop.wait(max(0.0, self.args.start_at - time.time()))
        next_t = time.monotonic()
        mid = 0
        deadline = next_t + self.args.duration
        if self.args.stop_at:
            deadline = min(deadline, next_t + self.args.stop_at - time.time())
        while not self.stop.is_set() and time.monotonic() < deadline:
            mid += 1
            body = encode_body(
                {
                    "app": self.args.app,
                    "model": self.args.model,
                    "texts": make_texts(self.args.texts, self.args.words, rng),
                },
                os.urandom(self.args.payload_bytes),
            )
            with self.lock:
                self.sent_at[mid] = time.monotonic()
            for datagram in chunks(KIND_REQUEST, mid, body, self.args.datagram_bytes):
                self.sock.sendto(datagram, (self.args.server, self.args.port))
                with self.lock:
                    self.stats["packets_sent"] += 1
                    self.stats["bytes_sent"] += ipv6_length(datagram, self.hbh)
            with self.lock:
                self.stats["requests_sent"] += 1
            next_t += period
            self.stop.wait(max(0.0, next_t - time.monotonic()))

    def receive_loop(self, linger_seconds: float) -> None:
        assembler = Assembler()
        quiet_since: float | None = None
        while True:
            if self.args.stop_at and time.time() >= self.args.stop_at:
                return  # the phase is over: what is still missing counts as unanswered
            try:
                datagram, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                if self.stop.is_set() or not self.sender.is_alive():
                    quiet_since = quiet_since or time.monotonic()
                    with self.lock:
                        waiting = len(self.sent_at)
                    if not waiting or time.monotonic() - quiet_since > linger_seconds:
                        return
                continue
            with self.lock:
                self.stats["packets_received"] += 1
                # downlink carries the server's own trace header of the same size
                self.stats["bytes_received"] += ipv6_length(datagram, self.hbh)
            done = assembler.add(peer, datagram)
            if done and done[0] == KIND_ANSWER:
                self._answered(done[1], done[2])

    def _answered(self, mid: int, body: bytes) -> None:
        from testbed.wire import decode_body

        meta, _ = decode_body(body)
        with self.lock:
            started = self.sent_at.pop(mid, None)
            if started is not None:
                self.stats["answers"] += 1
                self.stats["latency_seconds_sum"] += time.monotonic() - started
            self.stats["model"] = f"{meta.get('model')} ({meta.get('kind')})"

    def run(self) -> dict[str, Any]:
        self.sender = threading.Thread(target=self.send_loop, daemon=True)
        self.sender.start()
        self.receive_loop(self.args.linger)
        self.stats["unanswered"] = len(self.sent_at)
        return self.stats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--app", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--namespace-id", type=int, required=True)
    p.add_argument("--rate", type=float, default=1.0, help="requests per second")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    p.add_argument("--payload-bytes", type=int, default=1000)
    p.add_argument("--words", type=int, default=8, help="words per prompt")
    p.add_argument("--texts", type=int, default=1, help="prompts per request")
    p.add_argument("--model", default="", help="model the server should use (default: its first)")
    p.add_argument("--slots", type=int, default=6)
    p.add_argument("--datagram-bytes", type=int, default=1200)
    p.add_argument("--linger", type=float, default=15.0, help="wait for late answers (s)")
    p.add_argument("--start-at", type=float, default=0.0, help="first request at this Unix time")
    p.add_argument("--stop-at", type=float, default=0.0, help="stop at this Unix time (s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--stats", type=Path, required=True)
    args = p.parse_args()
    app = App(args)
    signal.signal(signal.SIGTERM, lambda *_: app.stop.set())
    signal.signal(signal.SIGINT, lambda *_: app.stop.set())
    args.stats.write_text(json.dumps(app.run()), encoding="utf-8")


if __name__ == "__main__":
    main()
