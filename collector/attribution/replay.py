"""Replay: recorded inputs checked against the topology, then every window over them.

`e2e-energy replay` and the live attributor's `--inputs` read records through here; replay runs
the same Engine as the live attributor, so a recording replays to the same windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from collector.attribution.engine import Engine
from collector.attribution.grid import windows_between
from collector.attribution.records import Entry, Record, RecordError, RestartMarker, read_records
from collector.attribution.snapshot import Snapshot
from collector.attribution.topology import Topology

MAX_REPLAY_WINDOWS = 1_000_000
"""About 174 days of 15 s windows; a wider span is a bad timestamp (ms, not s), not a run."""


def load_records(stream: TextIO, topology: Topology, origin: str) -> list[Record]:
    """The readings of `load_entries` (restart markers left out: the attributor's --inputs)."""
    return [e for e in load_entries(stream, topology, origin) if not isinstance(e, RestartMarker)]


def load_entries(stream: TextIO, topology: Topology, origin: str) -> list[Entry]:
    """Read every line; a malformed line or an unknown NF raises RecordError naming `origin`
    and the line number."""
    known = set(topology.nf_names())
    records: list[Entry] = []
    lines: list[int] = []
    try:
        for lineno, rec in read_records(stream):
            nf = getattr(rec, "nf", None)
            if nf is not None and nf not in known:
                raise RecordError(
                    f"line {lineno}: unknown nf {nf!r} (configured: {', '.join(sorted(known))})"
                )
            records.append(rec)
            lines.append(lineno)
        _check_span(records, lines, topology.window_seconds)
    except RecordError as exc:
        raise RecordError(f"{origin}: {exc}") from None
    return records


def load_records_file(path: Path, topology: Topology) -> list[Record]:
    """The readings of `load_entries_file` (restart markers left out)."""
    return [e for e in load_entries_file(path, topology) if not isinstance(e, RestartMarker)]


def load_entries_file(path: Path, topology: Topology) -> list[Entry]:
    """load_entries over a file, opened so that bytes which are not UTF-8 are reported with
    their line; an unreadable file is a RecordError too."""
    try:
        with path.open(encoding="utf-8", errors="surrogateescape") as stream:
            return load_entries(stream, topology, str(path))
    except OSError as exc:
        raise RecordError(f"{path}: cannot read: {exc.strerror}") from None


def _check_span(records: list[Entry], lines: list[int], window_seconds: float) -> None:
    """Refuse a time span of more than MAX_REPLAY_WINDOWS windows, naming the two lines."""
    if not records:
        return
    lo = min(range(len(records)), key=lambda i: records[i].t)
    hi = max(range(len(records)), key=lambda i: records[i].t)
    windows = (records[hi].t - records[lo].t) / window_seconds
    if windows > MAX_REPLAY_WINDOWS:
        raise RecordError(
            f"line {lines[lo]} (t={records[lo].t:g}) and line {lines[hi]} (t={records[hi].t:g})"
            f" span {windows:.3g} windows, more than {MAX_REPLAY_WINDOWS}: is a `t` in"
            " milliseconds?"
        )


def replay_run(topology: Topology, records: Sequence[Entry]) -> list[Snapshot]:
    """Every window from the first record's to the last one ending at or before the last record.
    At a restart marker the windows before its `next_window` are done, and a new engine goes on
    from the marker's state with the records after it (the totals carried over when the
    windows before it were all replayed), as the restarted attributor did."""
    segments: list[tuple[RestartMarker | None, list[Record]]] = [(None, [])]
    for entry in records:
        if isinstance(entry, RestartMarker):
            segments.append((entry, []))
        else:
            segments[-1][1].append(entry)
    out: list[Snapshot] = []
    engine: Engine | None = None
    for i, (marker, recs) in enumerate(segments):
        engine = _engine_after(topology, marker, engine)
        if not recs:
            continue
        first = min(r.t for r in recs) if engine.next_window is None else engine.next_window
        last = max(r.t for r in recs)
        if i + 1 < len(segments):
            nxt = segments[i + 1][0]
            last = min(last, nxt.next_window) if nxt is not None else last
        engine.ingest(recs)
        w = topology.window_seconds
        out += [engine.compute(s) for s in windows_between(first, last, w)]
    return out


def _engine_after(topology: Topology, marker: RestartMarker | None, prev: Engine | None) -> Engine:
    if marker is None:
        return Engine(topology)
    carried = prev is not None and prev.next_window == marker.next_window
    engine = Engine(topology, totals=prev.totals() if carried and prev is not None else None)
    engine.next_window = marker.next_window
    if marker.state is not None:
        engine.restore(marker.state)
    return engine
