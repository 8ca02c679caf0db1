# Shared settings for tests/cluster scripts. Sourced, never executed.
# shellcheck shell=bash

CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
K8S_VERSION="v1.36.3"
ETCD_VERSION="v3.6.16"
KWOK_VERSION="v0.8.0"

export GOTOOLCHAIN=local
export CGO_ENABLED=0

# The cache key covers the pinned versions and every go.mod/go.sum, so a
# change of pin rebuilds and an unchanged tree reuses the binaries.
cache_key() {
  cat "$CLUSTER_DIR"/go/*/go.mod "$CLUSTER_DIR"/go/*/go.sum "$CLUSTER_DIR"/go/*/*.go \
    | sha256sum | cut -c1-12
}

CACHE_ROOT="${DROMOS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dromos}"
BIN_DIR="${DROMOS_CLUSTER_BIN:-$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-$(cache_key)}"
STATE_DIR="${DROMOS_CLUSTER_STATE:-$CACHE_ROOT/cluster}"

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] error: %s\n' "$*" >&2; exit 1; }
