#!/usr/bin/env bash
# Build the local control plane and tools from Go modules into a cache outside the repository:
#   ${CYBERFORTUNE_CACHE:-$HOME/.cache/cyberfortune}/bin/<component>-<version>/<component>
# Pins are in versions.env. A binary is built only when its versioned directory lacks it, so this is
# idempotent and a pin change triggers exactly the rebuilds it needs. Called by `make binaries`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${CYBERFORTUNE_CACHE:-$HOME/.cache/cyberfortune}"
bin="$cache/bin"
mkdir -p "$bin"

# A system Go when new enough, else a pinned toolchain from PyPI (dev/go-toolchain.sh); never a download.
go="$(bash "$here/../go-toolchain.sh")"; export PATH="$(dirname "$go"):$PATH" GOTOOLCHAIN=local

# Pins and wrapper modules must agree, or go.mod would silently decide the version.
grep -q "^	k8s.io/kubernetes $KUBERNETES_VERSION\b" "$here/go.mod" || {
  echo "build.sh: go.mod does not require k8s.io/kubernetes $KUBERNETES_VERSION (see versions.env)" >&2; exit 1; }
staging="v0.${KUBERNETES_VERSION#v1.}"
if grep -E '^	k8s\.io/[a-z-]+ => ' "$here/go.mod" | grep -vq " $staging\$"; then
  echo "build.sh: some k8s.io replace in go.mod is not $staging" >&2; exit 1
fi
grep -q "^	go.etcd.io/etcd/server/v3 $ETCD_VERSION\b" "$here/etcd/go.mod" || {
  echo "build.sh: etcd/go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION" >&2; exit 1; }

# One build at a time (parallel `make` invocations share the cache).
exec 9>"$bin/.build.lock"
flock 9

export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
export CGO_ENABLED=0
jobs="$(nproc)"
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1"
  k8s_ldflags+=" -X $pkg.gitMinor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2) -X $pkg.gitTreeState=clean"
done

# build <name> <version> <command...>: run the command (which writes $out) unless the binary exists.
build() {
  local name="$1" version="$2"; shift 2
  local dir="$bin/$name-$version"
  if [ -x "$dir/$name" ]; then
    echo "build.sh: $name $version cached: $dir/$name"
    return
  fi
  mkdir -p "$dir"
  out="$dir/.$name.partial"
  echo "build.sh: building $name $version (cold builds take minutes) ..."
  local start=$SECONDS
  "$@"
  mv -f "$out" "$dir/$name"
  echo "build.sh: built $name $version in $((SECONDS - start))s: $dir/$name"
}

go_build_k8s() { (cd "$here" && go build -p "$jobs" -ldflags="$k8s_ldflags" -o "$out" "$1"); }
go_build_etcd() { (cd "$here/etcd" && go build -p "$jobs" -ldflags="-s -w" -o "$out" go.etcd.io/etcd/server/v3); }

# go_install <module/cmd> <version> [ldflags]: a plain `go install` (modules without replace directives).
go_install() {
  local gobin; gobin="$(mktemp -d)"
  (cd "$gobin" && GOBIN="$gobin" GOFLAGS="-trimpath -buildvcs=false" go install -p "$jobs" \
    -ldflags="-s -w ${3:-}" "$1@$2")
  mv -f "$gobin/$(basename "$1")" "$out"; rm -rf "$gobin"
}
# module_source <module> <version>: the directory of its downloaded, checksum-verified source.
module_source() {
  local tmp src; tmp="$(mktemp -d)"
  src=$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$1@$2" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') || { rm -rf "$tmp"; return 1; }
  rm -rf "$tmp"; echo "$src"
}
# go_build_in_module <module> <version> <package dir> [ldflags]: for a module whose go.mod has replace
# directives (`go install` refuses those): build inside its downloaded, checksum-verified source.
go_build_in_module() {
  local src; src="$(module_source "$1" "$2")"
  (cd "$src" && go build -p "$jobs" -ldflags="-s -w ${4:-}" -o "$out" "$3")
}
# The pod sandbox's pause process (dev/node/pause.c): ours, because no registry serves one here.
cc_build_pause() { gcc -static -Os -Wall -Wextra -Werror -o "$out" "$root/dev/node/pause.c" && strip "$out"; }

build etcd "$ETCD_VERSION" go_build_etcd
build kube-apiserver "$KUBERNETES_VERSION" go_build_k8s k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager "$KUBERNETES_VERSION" go_build_k8s k8s.io/kubernetes/cmd/kube-controller-manager
# kubectl at the server's version (inside the supported skew, whatever kubectl the machine has).
build kubectl "$KUBERNETES_VERSION" go_build_k8s k8s.io/kubernetes/cmd/kubectl
build helm "$HELM_VERSION" go_install helm.sh/helm/v3/cmd/helm "$HELM_VERSION" \
  "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
# The node.
build kube-scheduler "$KUBERNETES_VERSION" go_build_k8s k8s.io/kubernetes/cmd/kube-scheduler
build kubelet "$KUBERNETES_VERSION" go_build_k8s k8s.io/kubernetes/cmd/kubelet
build kube-proxy "$KUBERNETES_VERSION" go_build_k8s k8s.io/kubernetes/cmd/kube-proxy
build coredns "$COREDNS_VERSION" go_install github.com/coredns/coredns "$COREDNS_VERSION"
build crictl "$CRICTL_VERSION" go_install sigs.k8s.io/cri-tools/cmd/crictl "$CRICTL_VERSION" \
  "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION"
build local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION" go_install \
  github.com/rancher/local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION"
build kube-score "$KUBE_SCORE_VERSION" go_install github.com/zegl/kube-score/cmd/kube-score \
  "$KUBE_SCORE_VERSION" "-X main.version=$KUBE_SCORE_VERSION"
# skaffold runs `skaffold diagnose` and `skaffold render` on skaffold.yaml in the chart tier.
build skaffold "$SKAFFOLD_VERSION" go_build_in_module github.com/GoogleContainerTools/skaffold/v2 \
  "$SKAFFOLD_VERSION" ./cmd/skaffold \
  "-X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=$SKAFFOLD_VERSION"

# KEDA, for the chart's scaling.mode=keda (proven on the local cluster by the e2e tier): its operator
# and its metrics API server, built inside its module source (go.mod has a replace directive). Its
# admission webhooks are not built: the local cluster runs KEDA without them.
keda_ldflags="-X github.com/kedacore/keda/v2/version.Version=$KEDA_VERSION"
keda_ldflags+=" -X github.com/kedacore/keda/v2/version.GitCommit=$KEDA_VERSION"
build keda "$KEDA_VERSION" go_build_in_module github.com/kedacore/keda/v2 "$KEDA_VERSION" \
  ./cmd/operator "$keda_ldflags"
build keda-adapter "$KEDA_VERSION" go_build_in_module github.com/kedacore/keda/v2 "$KEDA_VERSION" \
  ./cmd/adapter "$keda_ldflags"

# Files from Go module sources (downloaded and verified against sum.golang.org, never built):
# fetch <name> <module> <version> <path in the module> -> <cache>/files/<name>-<version>/<basename>
fetch() {
  local name="$1" module="$2" version="$3" file="$4"
  local dir="$cache/files/$name-$version"
  [ -f "$dir/$(basename "$file")" ] && return
  local src; src="$(module_source "$module" "$version")"
  mkdir -p "$dir" && cp "$src/$file" "$dir/.partial" && mv "$dir/.partial" "$dir/$(basename "$file")"
  echo "build.sh: fetched $(basename "$file") from $module@$version"
}
fetch keda github.com/kedacore/keda/v2 "$KEDA_VERSION" config/crd/bases/keda.sh_scaledobjects.yaml
# fetch_dir <name> <module> <version> <directory in the module>: likewise, a whole directory.
fetch_dir() {
  local name="$1" module="$2" version="$3" sub="$4"
  local dir="$cache/files/$name-$version"
  [ -d "$dir/$(basename "$sub")" ] && return
  local src; src="$(module_source "$module" "$version")"
  mkdir -p "$dir" && rm -rf "$dir/.partial" && cp -r "$src/$sub" "$dir/.partial"
  chmod -R u+w "$dir/.partial" && mv "$dir/.partial" "$dir/$(basename "$sub")"
  echo "build.sh: fetched $sub/ from $module@$version"
}
# KEDA's own manifests (kustomize bases), which dev/controlplane/keda.py installs on the cluster.
fetch_dir keda-manifests github.com/kedacore/keda/v2 "$KEDA_VERSION" config
fetch prometheus-operator github.com/prometheus-operator/prometheus-operator \
  "$PROMETHEUS_OPERATOR_VERSION" example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml
skaffold_schema="v4beta13"  # the schema version of SKAFFOLD_VERSION (pkg/skaffold/schema/latest)
fetch skaffold github.com/GoogleContainerTools/skaffold/v2 "$SKAFFOLD_VERSION" \
  "docs-v2/content/en/schemas/$skaffold_schema.json"

build pause "src-$(sha256sum "$root/dev/node/pause.c" | cut -c1-12)" cc_build_pause
