#!/usr/bin/env bash
# Installs the Debian packages gridstream needs, only those not installed yet.
#   deploy/install-deps.sh          build and run (compiler, CMake, protobuf-c, librdkafka, RocksDB,
#                                   jemalloc,
#                                   Python for the sample generator)
#   deploy/install-deps.sh --test   also what the test suite needs (cmocka, kcat, confluent-kafka,
#                                   clang for libFuzzer)
# Runs apt-get as root, or through sudo.
set -euo pipefail

pkgs=(gcc make cmake pkg-config libprotobuf-c-dev protobuf-c-compiler libjemalloc-dev
      librdkafka-dev librocksdb-dev python3 python3-protobuf protobuf-compiler)
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=(libcmocka-dev clang-format kcat python3-confluent-kafka)  # kcat, confluent-kafka: clients we did not write
  pkgs+=(clang)  # libFuzzer (tests/fuzz/run.sh)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
