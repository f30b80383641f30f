# The optional CUDA addon sbi_engine_cuda.node, built by scripts/build_cuda.mjs (npm run build:cuda),
# which first compiles the launchers kernels/**/*.cu with nvcc into an archive and passes its path
# and the CUDA library directory in the environment. The runtime is linked statically
# (libcudart_static), so the addon loads on machines without a driver.
{
  "targets": [
    {
      "target_name": "sbi_engine_cuda",
      "sources": ["../native/cuda/addon.cc", "../native/cuda/ops.cc", "../native/napi_util.cc",
                  "../native/cuda/lattice_ops.cc", "../native/cuda/manifold_ops.cc",
                  "../native/cuda/flow_ops.cc", "../native/flow_spec.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O2", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": [
        "<!(node -p \"process.env.SBI_CUDA_KERNELS_ARCHIVE || 'SBI_CUDA_KERNELS_ARCHIVE-unset: run npm run build:cuda'\")",
        "-L<!(node -p \"process.env.SBI_CUDA_LIB_DIR || '.'\")",
        "-lcudart_static", "-ldl", "-lrt", "-lpthread"
      ]
    }
  ]
}
