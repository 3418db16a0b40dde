# One image for both workloads: `e2e-energy agent` (DaemonSet) and `e2e-energy attributor`.
# Untested here: no container engine runs on the development machines (see
# docs/how-to/install-on-a-cluster.md). Build: docker build -t e2e-energy:0.1.0 .

# --- build: wheels for the project and its runtime dependencies (no model extras, no dev tools)
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY collector ./collector
RUN pip wheel --wheel-dir /wheels .

# --- runtime: the wheels only, run as an unprivileged user by default
FROM python:3.11.11-slim-bookworm
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /wheels /wheels
# libbpf1: the agent's eBPF engine loads its committed program through libbpf.so.1.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libbpf1 \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-index --find-links=/wheels e2e-energy-collector \
    && rm -rf /wheels \
    && groupadd --system --gid 65532 e2e-energy \
    && useradd --system --uid 65532 --gid 65532 --home-dir /var/lib/e2e-energy \
       --shell /usr/sbin/nologin e2e-energy \
    && install -d -o 65532 -g 65532 /var/lib/e2e-energy
# The attributor runs as this user. The agent needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (eBPF
# engine) or CAP_NET_RAW (AF_PACKET), which Kubernetes grants only to UID 0, so the chart
# overrides the user to 0 for it with every other capability dropped.
USER 65532:65532
WORKDIR /var/lib/e2e-energy
EXPOSE 9470 8080
ENTRYPOINT ["e2e-energy"]
CMD ["--help"]
