import { defineConfig } from 'vitest/config';

/** Holds every answer of the console API to its schema in every test (src-main/api/answer-check.ts). */
const ANSWER_WATCH = './test/helpers/answer-watch.ts';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/unit/**/*.test.tsx'],
          environment: 'node',
          setupFiles: [ANSWER_WATCH],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          setupFiles: [ANSWER_WATCH],
          testTimeout: 30_000,
          hookTimeout: 30_000,
          // Real sockets and child processes: keep files sequential so timing assertions hold on 2 cores.
          fileParallelism: false,
        },
      },
    ],
  },
});
