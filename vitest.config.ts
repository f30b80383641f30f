import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Native kernels use their own thread pool; one test file per core keeps timings sane.
    maxWorkers: 2,
  },
});
