{
  "targets": [
    {
      "target_name": "faiss-node",
      "sources": ["src/faiss.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-Wno-unused-variable", "-Wno-unused-but-set-variable", "-fexceptions", "-frtti", "-fopenmp", "-include", "<(module_root_dir)/src/lookalike-faiss-compat.h"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-lfaiss", "-lopenblas", "-llapack", "-lgomp"]
    }
  ]
}
