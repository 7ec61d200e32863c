#!/usr/bin/env bash
# Installs the Debian 12 packages tp-sim needs to build and test (run as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
  build-essential cmake pkg-config \
  libgsl-dev libyaml-dev libcriterion-dev \
  libopenblas-dev libopenmpi-dev openmpi-bin \
  chromium fonts-dejavu-core libxml2-utils \
  clang libclang-rt-14-dev valgrind
