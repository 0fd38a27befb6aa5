#!/usr/bin/env bash
# Runs bpfkit's whole test suite, oracle tests included.
#
# On a fresh machine it first installs the reference tools the tests compare
# against (clang, bpftool, tcpdump/libpcap, llvm); tests that still lack a tool,
# root or kernel BPF skip with a printed reason.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v clang >/dev/null || need+=(clang)
command -v bpftool >/dev/null || need+=(bpftool)
command -v tcpdump >/dev/null || need+=(tcpdump)
[ -e /usr/include/pcap/pcap.h ] || need+=(libpcap-dev)
[ -e /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
command -v llvm-objdump >/dev/null || need+=(llvm)
command -v clang-19 >/dev/null || need+=(clang-19)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing oracles: ${need[*]}"
    apt-get update -qq || true
    # Install one by one so a package missing from this distribution skips only its tests.
    for p in "${need[@]}"; do
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null 2>&1 \
        || echo "test.sh: could not install $p; tests needing it will skip"
    done
  else
    echo "test.sh: not root or no apt-get; tests needing ${need[*]} will skip"
  fi
fi

# bpffs for the kernel-oracle tests (pinning under a folder of our own).
if [ "$(id -u)" = 0 ] && ! mountpoint -q /sys/fs/bpf 2>/dev/null; then
  mount -t bpf bpf /sys/fs/bpf 2>/dev/null || echo "test.sh: could not mount bpffs; kernel tests will skip"
fi

cargo build --release --workspace
cargo test --release --workspace
