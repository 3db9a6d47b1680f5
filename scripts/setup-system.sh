#!/usr/bin/env bash
# Makes WebGPU usable on a machine without a GPU: installs Mesa's lavapipe (software Vulkan)
# and, when available, Debian's Fashion-MNIST package. Idempotent; does nothing where a
# WebGPU adapter already works. Debian bookworm's Mesa 22 is too old for Dawn, so on bookworm
# Mesa comes from bookworm-backports, whose apt source is derived from the machine's own
# Debian source entry (same mirror), never from a hard-coded host.
set -euo pipefail
cd "$(dirname "$0")/.."

have_adapter() {
  [ -d node_modules/webgpu ] || return 1
  XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}" timeout 60 node scripts/probe-adapter.mjs >/dev/null 2>&1
}

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

need_fmnist=0
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need_fmnist=1

if have_adapter && [ "$need_fmnist" = 0 ]; then
  echo "[setup] WebGPU adapter works and Fashion-MNIST is present; nothing to do"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  if have_adapter; then exit 0; fi
  echo "[setup] no WebGPU adapter and no apt-get: install a Vulkan driver (e.g. Mesa >= 24 lavapipe) by hand" >&2
  exit 1
fi

codename=""
if [ -r /etc/os-release ]; then . /etc/os-release; codename="${VERSION_CODENAME:-}"; fi

add_backports() {
  # Already configured?
  if grep -rqs -- "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then return 0; fi
  local uri="" keyring=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    # deb822: the stanza whose Suites list the release itself gives the mirror and keyring.
    read -r uri keyring < <(awk -v c="$codename" 'BEGIN{RS=""; FS="\n"} {
        u=""; k=""; hit=0
        for (i=1;i<=NF;i++) {
          n=split($i, w, /[ \t]+/)
          if (w[1]=="URIs:") u=w[2]
          if (w[1]=="Signed-By:") k=w[2]
          if (w[1]=="Suites:") for (j=2;j<=n;j++) if (w[j]==c) hit=1
        }
        if (hit && u!="") { print u, k; exit }
      }' /etc/apt/sources.list.d/debian.sources) || true
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk -v c="$codename" '$1=="deb" && $0 !~ /security/ { for(i=2;i<=NF;i++) if($i ~ /^(http|https|ftp|file):/){u=$i} ; for(i=2;i<=NF;i++) if($i==c){print u; exit} }' /etc/apt/sources.list)
  fi
  if [ -z "$uri" ]; then
    echo "[setup] could not find this machine's Debian apt source to derive ${codename}-backports from" >&2
    return 1
  fi
  echo "[setup] adding ${codename}-backports from the machine's own Debian source"
  {
    echo "Types: deb"
    echo "URIs: ${uri}"
    echo "Suites: ${codename}-backports"
    echo "Components: main"
    [ -n "$keyring" ] && echo "Signed-By: ${keyring}"
  } | $SUDO tee /etc/apt/sources.list.d/refine-gpu-backports.sources >/dev/null
}

pkgs=()
if ! have_adapter; then
  if [ "$codename" = "bookworm" ]; then
    add_backports
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
  else
    pkgs+=(mesa-vulkan-drivers libvulkan1)
  fi
fi
if [ "$need_fmnist" = 1 ]; then pkgs+=(dataset-fashion-mnist); fi
if [ ${#pkgs[@]} -gt 0 ]; then
  [ "$codename" = "bookworm" ] || $SUDO apt-get update -qq
  [ -n "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v lock | head -1)" ] || $SUDO apt-get update -qq
  # The dataset is optional (a user may have no Debian package for it): never fail on it.
  for p in "${pkgs[@]}"; do
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null || echo "[setup] could not install $p" >&2
  done
fi
echo "[setup] done"
