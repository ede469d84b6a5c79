#!/usr/bin/env bash
# Installs what the build and tests need on a fresh Debian machine, idempotently:
# make, a C compiler for cargo, python3 (the end-to-end checks read JSON with it),
# and what librdkafka's bundled build needs: pkg-config, OpenSSL's and zlib's
# headers (TLS and compression for --kafka-config).
# The Rust toolchain itself comes with the machine image.
set -euo pipefail

need=()
command -v make >/dev/null || need+=(make)
command -v cc >/dev/null || need+=(gcc)
command -v python3 >/dev/null || need+=(python3)
command -v pkg-config >/dev/null || need+=(pkg-config)
for pkg in libssl-dev zlib1g-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: need ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
command -v cargo >/dev/null || { echo "setup: cargo not found" >&2; exit 1; }
cargo fmt --version >/dev/null 2>&1 || { echo "setup: rustfmt is missing" >&2; exit 1; }
cargo clippy --version >/dev/null 2>&1 || { echo "setup: clippy is missing" >&2; exit 1; }
