# Shared settings for tests/cluster scripts. Sourced, never executed.
# shellcheck shell=bash

CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
K8S_VERSION="v1.36.3"
ETCD_VERSION="v3.6.16"
KWOK_VERSION="v0.8.0"

export GOTOOLCHAIN=local
export CGO_ENABLED=0

# The cache key covers the pinned versions and the go.mod/go.sum of the control plane modules, so a
# change of pin rebuilds and an unchanged tree reuses the binaries.
cache_key() {
  local d="$CLUSTER_DIR/go"
  cat "$d"/{etcd,kube,kwok}/go.mod "$d"/{etcd,kube,kwok}/go.sum "$d"/{etcd,kube,kwok}/*.go \
    | sha256sum | cut -c1-12
}

# Helm (for the chart tests) has its own cache directory, so pinning it anew never rebuilds
# the control plane.
HELM_VERSION="v3.22.0"
helm_key() {
  cat "$CLUSTER_DIR"/go/helm/go.mod "$CLUSTER_DIR"/go/helm/go.sum "$CLUSTER_DIR"/go/helm/*.go \
    | sha256sum | cut -c1-12
}

# Prometheus and promtool (for the alerting tests) have their own cache directory too.
PROMETHEUS_VERSION="v0.316.0"
prometheus_key() {
  cat "$CLUSTER_DIR"/go/prometheus/go.mod "$CLUSTER_DIR"/go/prometheus/go.sum "$CLUSTER_DIR"/go/prometheus/*.go \
    | sha256sum | cut -c1-12
}

# Flux's source-controller and kustomize-controller (the peer of the side-by-side bench,
# tests/benches/flux.rs) have their own cache directory too.
FLUX_SOURCE_VERSION="v1.9.6"
FLUX_KUSTOMIZE_VERSION="v1.9.6"
flux_key() {
  cat "$CLUSTER_DIR"/go/flux-{source,kustomize}/go.mod "$CLUSTER_DIR"/go/flux-{source,kustomize}/go.sum \
    "$CLUSTER_DIR"/go/flux-{source,kustomize}/*.go | sha256sum | cut -c1-12
}

CACHE_ROOT="${DROMOS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dromos}"
BIN_DIR="${DROMOS_CLUSTER_BIN:-$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-$(cache_key)}"
HELM_DIR="$CACHE_ROOT/helm-$HELM_VERSION-$(helm_key)"
PROMETHEUS_DIR="$CACHE_ROOT/prometheus-$PROMETHEUS_VERSION-$(prometheus_key)"
FLUX_DIR="$CACHE_ROOT/flux-source-$FLUX_SOURCE_VERSION-kustomize-$FLUX_KUSTOMIZE_VERSION-$(flux_key)"
STATE_DIR="${DROMOS_CLUSTER_STATE:-$CACHE_ROOT/cluster}"

# Runs "$@" (exec) without the descriptors above 2 this shell inherited. Under
# `flock LOCK cmd` the lock is fd 3 of every child: a daemon that kept it would hold the lock
# long after the command that took it has finished.
without_inherited_fds() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd=${fd##*/}
    (( fd > 2 )) && eval "exec $fd>&-" 2>/dev/null
  done
  exec "$@"
}

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] error: %s\n' "$*" >&2; exit 1; }
