"""Kubernetes discovery through the official client: pods by label, the agents' endpoints (from
EndpointSlices, discovery.k8s.io/v1), app annotations. Imported lazily by callers so that nothing
needs a cluster unless configured.

Without an `api_client`, every call shares one client, configured once (in-cluster, else the
kubeconfig) and kept for the life of the process: its connection pool and credentials are
reused instead of rebuilt per call. Label selectors are also applied client-side, so a server
(or emulator) that ignores them still yields the right objects.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
"""The label that ties an EndpointSlice to its Service (set by the control plane)."""

_shared: Any | None = None
_shared_lock = threading.Lock()


def shared_client() -> Any:
    """The process's one ApiClient, configured on first use (thread-safe)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            from kubernetes import client, config

            try:
                config.load_incluster_config()
            except config.ConfigException:
                config.load_kube_config()
            _shared = client.ApiClient()
        return _shared


def _core(api_client: Any | None) -> Any:
    from kubernetes import client

    return client.CoreV1Api(api_client or shared_client())


def _discovery(api_client: Any | None) -> Any:
    from kubernetes import client

    return client.DiscoveryV1Api(api_client or shared_client())


def _selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _matches(obj_labels: dict[str, str] | None, wanted: dict[str, str]) -> bool:
    have = obj_labels or {}
    return all(have.get(k) == v for k, v in wanted.items())


def list_pods(
    *,
    labels: dict[str, str],
    namespaces: list[str],
    api_client: Any | None = None,
    timeout_seconds: float = 5.0,
) -> list[Any]:
    """Pods (V1Pod) carrying all `labels` in `namespaces` (all namespaces when empty)."""
    api = _core(api_client)
    sel = _selector(labels)
    kw = {"label_selector": sel, "_request_timeout": timeout_seconds}
    if namespaces:
        items = [p for ns in namespaces for p in api.list_namespaced_pod(ns, **kw).items]
    else:
        items = list(api.list_pod_for_all_namespaces(**kw).items)
    return [p for p in items if _matches(p.metadata.labels, labels)]


def pod_names(
    *, labels: dict[str, str], namespaces: list[str], api_client: Any | None = None
) -> set[str]:
    """ "namespace/pod" names of the matching pods (the Kepler/DCGM target strings)."""
    pods = list_pods(labels=labels, namespaces=namespaces, api_client=api_client)
    return {f"{p.metadata.namespace}/{p.metadata.name}" for p in pods}


async def pod_names_async(
    *, labels: dict[str, str], namespaces: list[str], api_client: Any | None = None
) -> set[str]:
    """The blocking client runs in a thread so the poller's loop never stalls on the API."""
    return await asyncio.to_thread(
        pod_names, labels=labels, namespaces=namespaces, api_client=api_client
    )


def agent_urls(
    *,
    namespace: str,
    service: str,
    port: int,
    path: str = "/metrics",
    api_client: Any | None = None,
) -> list[str]:
    """Scrape URLs of the agent Service's ready endpoints, from its EndpointSlices.

    An endpoint counts unless its `ready` condition is false (nil means ready, as kube-proxy
    reads it); an address listed in two slices (an IPv4 and an IPv6 slice of a dual-stack
    Service each list their own) is scraped once.
    """
    api = _discovery(api_client)
    wanted = {SERVICE_NAME_LABEL: service}
    slices = api.list_namespaced_endpoint_slice(
        namespace, label_selector=_selector(wanted), _request_timeout=5.0
    ).items
    urls = set()
    for s in slices:
        if not _matches(s.metadata.labels, wanted):
            continue
        for ep in s.endpoints or []:
            if ep.conditions is not None and ep.conditions.ready is False:
                continue
            for ip in ep.addresses or []:
                host = f"[{ip}]" if ":" in ip else ip
                urls.add(f"http://{host}:{port}{path}")
    return sorted(urls)


@dataclass(frozen=True, slots=True)
class AppAnnotation:
    """A pod's app mapping from its annotation (`<namespace_id>:<trace_id>` or a trace id)."""

    namespace: str
    pod: str
    app: str
    value: str


def app_annotations(
    *,
    annotation: str,
    namespace: str | None = None,
    app_label: str = "app",
    api_client: Any | None = None,
) -> list[AppAnnotation]:
    """Pods carrying `annotation`; the app is the pod's `app_label` label, else its name."""
    api = _core(api_client)
    kw = {"_request_timeout": 5.0}
    pods = (
        api.list_namespaced_pod(namespace, **kw).items
        if namespace
        else api.list_pod_for_all_namespaces(**kw).items
    )
    out = []
    for p in pods:
        ann = (p.metadata.annotations or {}).get(annotation)
        if ann is None:
            continue
        app = (p.metadata.labels or {}).get(app_label, p.metadata.name)
        out.append(AppAnnotation(p.metadata.namespace, p.metadata.name, app, ann))
    return sorted(out, key=lambda a: (a.namespace, a.pod))
