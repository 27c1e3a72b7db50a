#!/usr/bin/env bash
# Installs the two CUDA tools the `kernels` crate's compile check needs on a machine without a GPU:
# NVRTC (libnvrtc.so.12, to compile the .cu sources to PTX) and ptxas (to assemble that PTX and
# report registers, spills and shared memory). Both come from NVIDIA's pinned PyPI wheels, installed
# with `pip install --target` into a cache folder; nothing is installed system-wide and no GPU or
# driver is needed.
#
# Usage (CI and local):
#   source scripts/cuda_tools.sh      # installs if missing, then exports LD_LIBRARY_PATH and PATH
#   scripts/cuda_tools.sh             # installs if missing, then prints the export lines
#
# The cache folder is ${EBMPC_CUDA_TOOLS:-$HOME/.cache/ebmpc-cuda-tools}; a second run finds the
# stamp file of the pinned versions and skips the download (about 90 MB + 40 MB the first time).

_ebmpc_cuda_tools() {
    local nvrtc_version="12.9.86"
    local nvcc_version="12.9.86"
    local dir="${EBMPC_CUDA_TOOLS:-$HOME/.cache/ebmpc-cuda-tools}"
    local stamp="$dir/.installed-nvrtc-${nvrtc_version}-nvcc-${nvcc_version}"
    local python="${PYTHON:-python3}"

    if [ ! -f "$stamp" ]; then
        echo "cuda_tools: installing nvidia-cuda-nvrtc-cu12==${nvrtc_version} and nvidia-cuda-nvcc-cu12==${nvcc_version} into $dir" >&2
        mkdir -p "$dir" || return 1
        "$python" -m pip install --quiet --disable-pip-version-check --no-deps --upgrade \
            --target "$dir" \
            "nvidia-cuda-nvrtc-cu12==${nvrtc_version}" \
            "nvidia-cuda-nvcc-cu12==${nvcc_version}" || return 1
        touch "$stamp" || return 1
    else
        echo "cuda_tools: pinned versions already in $dir" >&2
    fi

    local lib="$dir/nvidia/cuda_nvrtc/lib"
    local bin="$dir/nvidia/cuda_nvcc/bin"
    if [ ! -e "$lib/libnvrtc.so.12" ]; then
        echo "cuda_tools: $lib/libnvrtc.so.12 is missing after install" >&2
        return 1
    fi
    if [ ! -x "$bin/ptxas" ]; then
        echo "cuda_tools: $bin/ptxas is missing after install" >&2
        return 1
    fi
    EBMPC_CUDA_LIB="$lib"
    EBMPC_CUDA_BIN="$bin"
}

if (return 0 2>/dev/null); then
    # Sourced: export into the caller's shell.
    if _ebmpc_cuda_tools; then
        export LD_LIBRARY_PATH="$EBMPC_CUDA_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        export PATH="$EBMPC_CUDA_BIN:$PATH"
        echo "cuda_tools: LD_LIBRARY_PATH += $EBMPC_CUDA_LIB; PATH += $EBMPC_CUDA_BIN" >&2
    else
        echo "cuda_tools: install failed; the kernels compile check will print 'skipped'" >&2
    fi
else
    set -euo pipefail
    _ebmpc_cuda_tools
    echo "export LD_LIBRARY_PATH=\"$EBMPC_CUDA_LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\""
    echo "export PATH=\"$EBMPC_CUDA_BIN:\$PATH\""
fi
