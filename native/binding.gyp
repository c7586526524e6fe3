{
  # Built by ../scripts/build-native.js (npm install runs it; it never fails the install). The BLAS and compiler
  # flags come from that script's detection, passed through `<!@(...)` so the same logic serves both paths.
  "targets": [
    {
      "target_name": "lightvit_native",
      "sources": ["src/addon.cc", "src/fused.cc"],
      "include_dirs": [
        "<!@(node ../scripts/build-native.js --gyp include_dirs)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "<!@(node ../scripts/build-native.js --gyp defines)"],
      "libraries": ["<!@(node ../scripts/build-native.js --gyp libraries)"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-O2"],
      "cflags_cc": ["-std=c++17", "-O3", "<!@(node ../scripts/build-native.js --gyp cflags)"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0",
        "OTHER_CPLUSPLUSFLAGS": ["-O3"]
      },
      "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1 } }
    }
  ]
}
