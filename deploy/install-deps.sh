#!/usr/bin/env bash
# Installs the Debian packages gridstream needs, only those not installed yet.
#   deploy/install-deps.sh          build and run (compiler, CMake, protobuf-c, librdkafka, RocksDB,
#                                   jemalloc, libmicrohttpd,
#                                   Python for the sample generator)
#   deploy/install-deps.sh --test   also what the test suite needs (cmocka, kcat, confluent-kafka,
#                                   PyYAML for the deploy/ checks, chromium to render the HTML
#                                   scorecard, clang for libFuzzer)
#   deploy/install-deps.sh --bench  also what the benchmark report needs (gnuplot for its plot,
#                                   kcat and db_bench from rocksdb-tools as references)
# Runs apt-get as root, or through sudo.
set -euo pipefail

pkgs=(gcc make cmake pkg-config libprotobuf-c-dev protobuf-c-compiler libjemalloc-dev
      librdkafka-dev librocksdb-dev libmicrohttpd-dev python3 python3-protobuf protobuf-compiler)
for arg in "$@"; do
  case "$arg" in
    --test)
      pkgs+=(libcmocka-dev clang-format kcat python3-confluent-kafka python3-yaml)  # kcat, confluent-kafka: clients we did not write
      pkgs+=(chromium fonts-wqy-microhei)  # headless HTML scorecard screenshots; a CJK font for them
      pkgs+=(clang) ;;  # libFuzzer (tests/fuzz/run.sh)
    --bench) pkgs+=(gnuplot-nox kcat rocksdb-tools) ;;  # the plot; the e2e and restore references
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The deploy/ checks ask apt-cache whether the image's packages exist: they need package lists.
need_lists=0
if [[ " $* " == *" --test "* ]] && ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
  need_lists=1
fi
if ((${#missing[@]} == 0 && need_lists == 0)); then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
if ((${#missing[@]} > 0)); then
  echo "install-deps: installing ${missing[*]}"
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: done"
