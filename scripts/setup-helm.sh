#!/usr/bin/env bash
# What the chart tests (test/e2e/helm.test.ts) need beyond npm and the Python venv, all from the
# Go module proxy and cached, so only the first run takes time:
#   - Helm, built with `go install helm.sh/helm/v3/cmd/helm@HELM_VERSION` into a cache folder
#     outside node_modules (npm ci wipes that);
#   - the CRDs the manifests use but Kubernetes' own schemas lack, from their Go modules:
#     ServiceMonitor (prometheus-operator) and Istio's (istio.io/api).
# Prints shell assignments, e.g.
#   HELM=/root/.cache/llm-gateway/helm-v3.21.4/helm
#   SERVICEMONITOR_CRD=/root/go/pkg/mod/github.com/prometheus-operator/.../monitoring.coreos.com_servicemonitors.yaml
#   ISTIO_CRDS=/root/go/pkg/mod/istio.io/api@v1.32.0/kubernetes/customresourcedefinitions.gen.yaml
#
#   bash scripts/setup-helm.sh
#   HELM_VERSION, PROMETHEUS_OPERATOR_VERSION, ISTIO_API_VERSION, HELM_CACHE_DIR
#   (${XDG_CACHE_HOME:-~/.cache}/llm-gateway), GO (go on PATH, else /usr/local/go/bin/go)
#
# A `helm` on PATH is not used: the tests pin the version. Progress goes to stderr. Exits 2 when
# no Go toolchain is found.
set -euo pipefail

helm_version="${HELM_VERSION:-v3.21.4}"
prom_version="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
istio_version="${ISTIO_API_VERSION:-v1.32.0}"
cache="${HELM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llm-gateway}"
dir="$cache/helm-$helm_version"
bin="$dir/helm"

go="${GO:-}"
if [ -z "$go" ]; then
  if command -v go >/dev/null 2>&1; then go=go
  elif [ -x /usr/local/go/bin/go ]; then go=/usr/local/go/bin/go
  else
    echo "setup-helm: no Go toolchain (go on PATH or /usr/local/go/bin/go) to build Helm $helm_version" >&2
    exit 2
  fi
fi

if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  tmp="$(mktemp -d "$dir/build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  start=$SECONDS
  echo "setup-helm: building Helm $helm_version with $("$go" version) (first run only)" >&2
  # As Helm's Makefile: the Kubernetes version `helm template` and `helm lint` assume by default
  # is the one of its client-go (else 1.20, below the chart's kubeVersion).
  gomod="$(GOFLAGS= "$go" mod download -json "helm.sh/helm/v3@$helm_version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  k8s_minor="$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod")"
  if [ -z "$k8s_minor" ]; then
    echo "setup-helm: no k8s.io/client-go version in $gomod" >&2
    exit 1
  fi
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags="$ldflags -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
  done
  # Static and stripped, reporting its version (`helm version`) as a release build does.
  GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS= "$go" install -trimpath -ldflags "$ldflags" \
    "helm.sh/helm/v3/cmd/helm@$helm_version" >&2
  # Atomic: a concurrent run sees either no binary or a complete one.
  mv -f "$tmp/helm" "$bin"
  echo "setup-helm: built $bin in $((SECONDS - start))s" >&2
fi

# The module's folder in the module cache (downloaded once, verified against sum.golang.org).
module_dir() {
  GOFLAGS= "$go" mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

prom_dir="$(module_dir "github.com/prometheus-operator/prometheus-operator@$prom_version")"
istio_dir="$(module_dir "istio.io/api@$istio_version")"
servicemonitor="$prom_dir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
istio="$istio_dir/kubernetes/customresourcedefinitions.gen.yaml"
for f in "$servicemonitor" "$istio"; do
  if [ ! -f "$f" ]; then
    echo "setup-helm: $f not found in the downloaded module" >&2
    exit 1
  fi
done

echo "HELM=$bin"
echo "SERVICEMONITOR_CRD=$servicemonitor"
echo "ISTIO_CRDS=$istio"
