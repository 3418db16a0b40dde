"""Kubernetes discovery through the official client: pods by label, agents' endpoints, app
annotations. Imported lazily by callers so that nothing needs a cluster unless configured.

Label selectors are also applied client-side, so a server (or emulator) that ignores them
still yields the right pods.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any


def _api(api_client: Any | None = None) -> Any:
    from kubernetes import client, config

    if api_client is not None:
        return client.CoreV1Api(api_client)
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    return client.CoreV1Api()


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
    api = _api(api_client)
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
    """Scrape URLs of the agent Service's ready endpoints."""
    api = _api(api_client)
    ep = api.read_namespaced_endpoints(service, namespace, _request_timeout=5.0)
    urls = []
    for subset in ep.subsets or []:
        for addr in subset.addresses or []:
            host = f"[{addr.ip}]" if ":" in addr.ip else addr.ip
            urls.append(f"http://{host}:{port}{path}")
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
    api = _api(api_client)
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
