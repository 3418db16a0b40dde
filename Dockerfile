# The two images of e2e-energy, from one wheelhouse made from locks/ (the build needs no network):
#   agent       the capture DaemonSet: the core only (settings, capture, /metrics)
#   attributor  the attributor Deployment and the operator's tools (replay, placement, ioam decode)
#
# `make images` builds both here on a base made from Debian's packages (scripts/images.py).
# Elsewhere, on the usual public base (docs/how-to/install-on-a-cluster.md):
#   make wheelhouse
#   docker build --target agent -t REGISTRY/e2e-energy-agent:VERSION -f Dockerfile .cache/images/context
#   docker build --target attributor -t REGISTRY/e2e-energy-attributor:VERSION -f Dockerfile .cache/images/context
# The build context: wheels/ (every locked wheel and pip's), project/ (the project's wheel), locks/
# and scripts/install-venv.sh.

# Any Debian 12 base with python3 3.11 at /usr/bin or /usr/local/bin.
ARG BASE=docker.io/library/python:3.11.11-slim-bookworm

# --- build: the dependencies' virtual environment per image, and the project in a layer of its own
FROM ${BASE} AS build
# scripts/images.py keeps the current build of each stage below as a named cache and removes
# stale ones (one per lock or code change) by this label; the images do not inherit it.
LABEL io.e2e-energy.stage=build
COPY wheels/ /wheels/
COPY locks/ /locks/
COPY install-venv.sh /usr/local/bin/install-venv

FROM build AS deps-agent
RUN install-venv deps agent

FROM build AS deps-attributor
RUN install-venv deps attributor

FROM build AS project
COPY project/ /project/
RUN install-venv project

# --- runtime: what both images share
FROM ${BASE} AS runtime
ENV PATH=/opt/e2e-energy/project/bin:/opt/e2e-energy/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HOME=/var/lib/e2e-energy
# A named user for UID/GID 65532 (the chart's runAsUser) and its writable state directory.
RUN echo 'e2e-energy:x:65532:65532:e2e-energy:/var/lib/e2e-energy:/usr/sbin/nologin' >> /etc/passwd \
    && echo 'e2e-energy:x:65532:' >> /etc/group \
    && mkdir -p /var/lib/e2e-energy /etc/e2e-energy \
    && chown 65532:65532 /var/lib/e2e-energy
WORKDIR /var/lib/e2e-energy
ENTRYPOINT ["e2e-energy"]

# --- agent: its eBPF engine needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN, its AF_PACKET engine
# CAP_NET_RAW, which Kubernetes grants only to UID 0, so the chart runs it as root with every other
# capability dropped; the image itself defaults to 65532.
FROM runtime AS agent
# Debian packages the agent loads at run time (libbpf1: the eBPF engine loads its committed
# program through libbpf.so.1). A base made by `make images` already holds them (scripts/images.py
# reads this line); on another base they are installed here.
ARG AGENT_DEBS="libbpf1"
RUN if [ -n "$AGENT_DEBS" ] && ! dpkg-query -W $AGENT_DEBS >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends $AGENT_DEBS \
      && rm -rf /var/lib/apt/lists/*; fi
COPY --from=deps-agent /opt/e2e-energy /opt/e2e-energy
COPY --from=project /opt/e2e-energy/project /opt/e2e-energy/project
USER 65532:65532
EXPOSE 9470
CMD ["agent", "--help"]

# --- attributor: runs as 65532 with a read-only root; the store lives on a volume
FROM runtime AS attributor
COPY --from=deps-attributor /opt/e2e-energy /opt/e2e-energy
COPY --from=project /opt/e2e-energy/project /opt/e2e-energy/project
USER 65532:65532
EXPOSE 8080
CMD ["attributor", "--help"]
