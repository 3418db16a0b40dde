"""The source runtime: the interface every power, request, carbon and agent source implements
(fetch + parse) and what runs it (pooled HTTP, deadline, retries, clock, error kinds, health)."""

from collector.sources.base import LoopBound, PayloadError, ReadPolicy, Source, SourceFailure
from collector.sources.health import Health
from collector.sources.http import HttpClient
from collector.sources.poller import Poller
from collector.sources.runtime import Runner

__all__ = [
    "Health",
    "HttpClient",
    "LoopBound",
    "PayloadError",
    "Poller",
    "ReadPolicy",
    "Runner",
    "Source",
    "SourceFailure",
]
