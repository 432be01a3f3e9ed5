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
