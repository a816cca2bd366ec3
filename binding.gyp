{
  # Sources and defines come from native/build.json, the one list that CMakeLists.txt reads too.
  # NVTX headers are looked up at build time (scripts/nvtx-headers.cjs), never vendored.
  'variables': {
    'nvtx_include_dir': '<!(node scripts/nvtx-headers.cjs)',
  },
  'targets': [
    {
      'target_name': 'gil_nvtx',
      'sources': ['<!@(node -p "require(\'./native/build.json\').addon.sources.join(\' \')")'],
      'defines': ['<!@(node -p "require(\'./native/build.json\').addon.defines.join(\' \')")'],
      'include_dirs': [
        '<!(node -p "require(\'node-addon-api\').include_dir")',
        '<(nvtx_include_dir)',
      ],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions'],
      'cflags': ['-fvisibility=hidden', '-O3'],
      'cflags_cc': ['-fvisibility=hidden', '-fvisibility-inlines-hidden', '-std=c++17', '-O3'],
      'ldflags': ['-Wl,-z,nodelete'],
      'libraries': ['-ldl'],
    },
    # The embedded NVTX collector: an injection library loaded through NVTX_INJECTION64_PATH,
    # not a Node addon. Plain C; only InitializeInjectionNvtx2 is exported.
    {
      'target_name': 'gil_nvtx_collector',
      'type': 'shared_library',
      'product_dir': '<(PRODUCT_DIR)',
      'sources': ['<!@(node -p "require(\'./native/build.json\').collector.sources.join(\' \')")'],
      'defines': ['<!@(node -p "require(\'./native/build.json\').collector.defines.join(\' \')")'],
      'include_dirs': ['<(nvtx_include_dir)'],
      'cflags': ['-std=gnu11', '-fvisibility=hidden', '-O2', '-Wall', '-Wextra'],
      'ldflags': ['-Wl,-z,nodelete'],
      'libraries': ['-lpthread'],
      'conditions': [
        ['target_arch=="x64"', {'cflags': ['<!@(node -p "require(\'./native/build.json\').collector.cflags_x64.join(\' \')")']}],
      ],
    },
    # The collector's watchdog: a separate program `gil-nvtx trace` runs beside the traced one.
    {
      'target_name': 'gil_nvtx_watchdog',
      'type': 'executable',
      'product_dir': '<(PRODUCT_DIR)',
      'sources': ['<!@(node -p "require(\'./native/build.json\').watchdog.sources.join(\' \')")'],
      'cflags': ['-std=gnu11', '-O2', '-Wall', '-Wextra'],
    },
  ],
}
