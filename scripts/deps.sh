# scripts/deps.sh — sourced by scripts/test and scripts/demo: install the
# Debian packages execrpc needs, only when one is missing.
XR_DEB_PACKAGES=(
  gcc make cmake pkg-config
  libprotobuf-c-dev protobuf-c-compiler
  libnanopb-dev nanopb protobuf-compiler python3 python3-protobuf
  libprotobuf-dev libprotoc-dev
  libmbedtls-dev nettle-dev libevent-dev libcmocka-dev libyaml-dev libjansson-dev
  libhiredis-dev redis-server
  python3-setuptools python3-wheel python3-pip python3-venv
  python3-fastapi python3-uvicorn python3-httpx
)

xr_install_deps() {
  local missing=() p
  for p in "${XR_DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing missing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

# bench/compare only (never the library or the tests): gRPC C++ for its
# comparison rows, gnuplot for the plot of docs/performance.md.
XR_BENCH_PACKAGES=(
  g++ libgrpc++-dev protobuf-compiler-grpc gnuplot-nox
)

xr_install_bench_deps() {
  local saved=("${XR_DEB_PACKAGES[@]}") rc=0
  XR_DEB_PACKAGES=("${XR_BENCH_PACKAGES[@]}")
  xr_install_deps || rc=$?
  XR_DEB_PACKAGES=("${saved[@]}")
  return $rc
}
