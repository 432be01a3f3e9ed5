import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Every test runs on the embedded database (PGlite). When TEST_DATABASE_URL
// names a PostgreSQL server, the database-backed tests run again on it.
const postgres = process.env.TEST_DATABASE_URL
  ? [
      {
        extends: true as const,
        test: {
          name: 'postgres',
          include: ['test/**/*.test.ts'],
          env: { HERALD_TEST_TARGET: 'postgres' },
        },
      },
    ]
  : [];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: a single worker on
    // the 2-core machines Herald's CI runs on. Most files wait on a database
    // or a child process much of the time, so one worker per core keeps both
    // busy (measured on the whole suite: see README, "Test it").
    maxWorkers: Math.max(2, availableParallelism()),
    // Test files share their worker processes instead of loading every module
    // again: each file builds its own container and database, and
    // test/helpers/setup-file.ts resets the little process-wide state there is
    // (time-ordered id generators). Measured on 24 integration files: 243 s
    // isolated, 141 s shared.
    isolate: false,
    setupFiles: ['test/helpers/setup-file.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'pglite',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          env: { HERALD_TEST_TARGET: 'pglite' },
        },
      },
      ...postgres,
    ],
  },
});
