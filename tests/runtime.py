"""Reading a source once through the real runtime (collector.sources.Runner), as the poller does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from collector.models import ReadResult
from collector.sources import Runner, Source


def read_once(source: Source[Any], clock: Callable[[], float] = time.time) -> ReadResult:
    """One read in a loop of its own; the loop's shutdown closes the source's pool."""
    return asyncio.run(Runner(source, clock=clock).read())
