#!/usr/bin/env bash
# Validate the Kubernetes manifests offline: render every overlay with kustomize, then check each
# resource with kubeconform in strict mode against the Kubernetes API schemas and the CRD schemas of
# Strimzi and CloudNativePG, then check the references between resources (crossref.py).
#
# Everything it needs comes from package registries and is cached under .local/k8s/:
#   kustomize, kubeconform   go install (Go module proxy), pinned below
#   Kubernetes schemas       the kubernetes-validate wheel (PyPI): JSON Schemas generated from the
#                            Kubernetes OpenAPI document, made standalone by schemas.py
#   CloudNativePG CRDs       the Go module github.com/cloudnative-pg/cloudnative-pg, config/crd/bases
#   Strimzi CRDs             io.strimzi:api (Maven Central), its tests jar: crds/v1beta2/*.yaml, the
#                            CRDs Strimzi generates from the same model classes it ships
# kubeconform is never given a remote schema location, so it cannot reach for the network.
#
# Usage: deploy/k8s/validate.sh            (or: make k8s)
#   K8S_VERSION=1.31.0 deploy/k8s/validate.sh   another Kubernetes minor (1.25.0 ... 1.37.0)
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.1
KUBECONFORM_VERSION=v0.7.0
K8S_VERSION=${K8S_VERSION:-1.33.0}
KUBERNETES_VALIDATE_VERSION=1.37.0
KUBERNETES_VALIDATE_SHA256=85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9
CNPG_VERSION=v1.28.0
STRIMZI_VERSION=0.51.0
STRIMZI_TESTS_JAR_SHA256=b99f69303dc507ca505b74345d93f5260621bb084b8b79447f726e54b6e66a1d
PYYAML_VERSION=6.0.3

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
LOCAL="${BW_LOCAL_DIR:-$ROOT/.local}/k8s"
BIN="$LOCAL/bin"
DOWNLOADS="$LOCAL/downloads"
SCHEMAS="$LOCAL/schemas"
RENDERED="$LOCAL/rendered"
mkdir -p "$BIN" "$DOWNLOADS" "$SCHEMAS" "$RENDERED"

# Go's caches live under .local too, writable so that `make reset` can delete them.
export GOMODCACHE="$LOCAL/go/mod" GOCACHE="$LOCAL/go/cache" GOBIN="$BIN"
export GOFLAGS=-modcacherw GOTOOLCHAIN=local

say() { printf '==> %s\n' "$*"; }
need() { command -v "$1" >/dev/null || { echo "validate.sh needs $1 ($2)" >&2; exit 1; }; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }

# --- tools ---------------------------------------------------------------------------------------

go_tool() { # NAME PACKAGE MODULE VERSION: go install unless BIN/NAME is that module at that version
    local name=$1 package=$2 module=$3 version=$4
    if [[ -x "$BIN/$name" ]] && go version -m "$BIN/$name" 2>/dev/null | grep -qE "^\s+mod\s+$module\s+$version\s"; then
        return
    fi
    say "go install $package@$version"
    go install "$package@$version"
}

need go "the Go toolchain, 1.24 or newer"
need python3 "Python 3"
need mvn "Maven, for the Strimzi CRDs"
go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"
go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform github.com/yannh/kubeconform "$KUBECONFORM_VERSION"

# PyYAML for reading CRDs and rendered manifests: the interpreter's own if it has one.
PY=(python3)
if ! python3 -c 'import yaml' 2>/dev/null; then
    if ! PYTHONPATH="$LOCAL/py" python3 -c 'import yaml' 2>/dev/null; then
        say "pip install PyYAML==$PYYAML_VERSION into $LOCAL/py"
        python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$LOCAL/py" "PyYAML==$PYYAML_VERSION"
    fi
    PY=(env "PYTHONPATH=$LOCAL/py" python3)
fi

# --- schemas -------------------------------------------------------------------------------------

K8S_SCHEMAS="$SCHEMAS/kubernetes-$KUBERNETES_VALIDATE_VERSION"
if [[ ! -f "$K8S_SCHEMAS/v$K8S_VERSION-standalone-strict/.done" ]]; then
    wheel="$DOWNLOADS/kubernetes_validate-$KUBERNETES_VALIDATE_VERSION-py3-none-any.whl"
    if [[ ! -f "$wheel" ]]; then
        say "pip download kubernetes-validate==$KUBERNETES_VALIDATE_VERSION (Kubernetes JSON Schemas)"
        requirement="$DOWNLOADS/kubernetes-validate.txt"
        echo "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION --hash=sha256:$KUBERNETES_VALIDATE_SHA256" >"$requirement"
        python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
            --require-hashes -r "$requirement" -d "$DOWNLOADS"
    fi
    say "Kubernetes $K8S_VERSION schemas"
    rm -rf "$K8S_SCHEMAS/v$K8S_VERSION-standalone-strict"
    python3 "$HERE/schemas.py" kubernetes "$wheel" "$K8S_VERSION" "$K8S_SCHEMAS"
    touch "$K8S_SCHEMAS/v$K8S_VERSION-standalone-strict/.done"
fi

CRD_SCHEMAS="$SCHEMAS/crds-cnpg-$CNPG_VERSION-strimzi-$STRIMZI_VERSION-k8s-$K8S_VERSION"
if [[ ! -f "$CRD_SCHEMAS/.done" ]]; then
    say "go mod download github.com/cloudnative-pg/cloudnative-pg@$CNPG_VERSION (CloudNativePG CRDs)"
    cnpg_dir="$(go mod download -json "github.com/cloudnative-pg/cloudnative-pg@$CNPG_VERSION" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"

    jar="$DOWNLOADS/api-$STRIMZI_VERSION-tests.jar"
    if [[ ! -f "$jar" ]] || [[ "$(sha256 "$jar")" != "$STRIMZI_TESTS_JAR_SHA256" ]]; then
        say "mvn dependency:copy io.strimzi:api:$STRIMZI_VERSION:jar:tests (Strimzi CRDs)"
        if ! (cd "$DOWNLOADS" && mvn -B dependency:copy "-Dartifact=io.strimzi:api:$STRIMZI_VERSION:jar:tests" \
            "-DoutputDirectory=$DOWNLOADS") >"$DOWNLOADS/mvn.log" 2>&1; then
            cat "$DOWNLOADS/mvn.log" >&2
            exit 1
        fi
        if [[ "$(sha256 "$jar")" != "$STRIMZI_TESTS_JAR_SHA256" ]]; then
            echo "$jar: sha256 is not $STRIMZI_TESTS_JAR_SHA256" >&2
            exit 1
        fi
    fi
    strimzi_dir="$DOWNLOADS/strimzi-$STRIMZI_VERSION"
    rm -rf "$strimzi_dir" && mkdir -p "$strimzi_dir"
    python3 - "$jar" "$strimzi_dir" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = [n for n in z.namelist() if n.startswith("crds/v1beta2/") and n.endswith(".yaml")]
    if not names:
        sys.exit(f"{sys.argv[1]} has no crds/v1beta2/*.yaml")
    for n in names:
        open(f"{sys.argv[2]}/{n.rsplit('/', 1)[1]}", "wb").write(z.read(n))
EOF
    say "CRD schemas: CloudNativePG $CNPG_VERSION, Strimzi $STRIMZI_VERSION"
    rm -rf "$CRD_SCHEMAS"
    "${PY[@]}" "$HERE/schemas.py" crds "$CRD_SCHEMAS" \
        "$K8S_SCHEMAS/v$K8S_VERSION-standalone-strict/namespace-v1.json" \
        "$cnpg_dir"/config/crd/bases/*.yaml "$strimzi_dir"/*.yaml
    touch "$CRD_SCHEMAS/.done"
fi

KUBECONFORM=(
    "$BIN/kubeconform" -strict -kubernetes-version "$K8S_VERSION"
    -schema-location "$K8S_SCHEMAS/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"
    -schema-location "$CRD_SCHEMAS/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
)

# --- the checks catch what they should ----------------------------------------------------------
# Each file under testdata/ is wrong in the ways its "# expect:" lines name; a check that accepted
# one would make every green run below meaningless.
rejects() { # LABEL FILE COMMAND...: COMMAND must fail on FILE, saying every "# expect:" line
    local label=$1 bad=$2 out expect
    shift 2
    if out="$("$@" "$bad" 2>&1)"; then
        echo "FAIL: $label accepted $bad" >&2
        exit 1
    fi
    while IFS= read -r expect; do
        if [[ "$out" != *"$expect"* ]]; then
            printf 'FAIL: %s rejected %s, but not for "%s":\n%s\n' "$label" "$bad" "$expect" "$out" >&2
            exit 1
        fi
    done < <(sed -n 's/^# expect: //p' "$bad")
}
say "kubeconform rejects each of testdata/invalid; crossref.py each of testdata/crossref"
for bad in "$HERE"/testdata/invalid/*.yaml; do
    rejects kubeconform "$bad" "${KUBECONFORM[@]}"
done
for bad in "$HERE"/testdata/crossref/*.yaml; do
    rejects crossref.py "$bad" "${PY[@]}" "$HERE/crossref.py"
done

# --- render and validate every overlay -----------------------------------------------------------
status=0
for overlay in "$HERE"/overlays/*/; do
    name="$(basename "$overlay")"
    say "overlay $name: kustomize build, kubeconform (Kubernetes $K8S_VERSION), crossref"
    "$BIN/kustomize" build "$overlay" >"$RENDERED/$name.yaml"
    "${KUBECONFORM[@]}" -summary "$RENDERED/$name.yaml" || status=1
    "${PY[@]}" "$HERE/crossref.py" "$RENDERED/$name.yaml" || status=1
done

if [[ $status -ne 0 ]]; then
    echo "k8s manifests: INVALID (rendered output in $RENDERED)" >&2
    exit 1
fi
echo "k8s manifests: valid"
