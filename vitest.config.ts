import { defineConfig } from 'vitest/config';

// Native addons can crash the `threads` pool; each test file gets its own process instead.
// Tests that drive nsys or build CPython serialise themselves (see test/helpers), so two workers suffice
// on our 2-core machines.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 1_800_000,
    globalSetup: ['test/global-setup.ts'],
  },
});
