import { performance } from 'node:perf_hooks';
import { startSmtpSink } from '../test/helpers/smtp-sink.js';
import { describeAbScenario, runAbScenario } from './ab-tests.js';
import { createHarness } from './simulator/harness.js';
import { startHerald } from './simulator/herald.js';
import { createWorld } from './simulator/world.js';

/**
 * `npm run eval`: Herald's experiments on a simulated workspace with a known
 * truth, through the real sending pipeline and tracking endpoints.
 *
 * EVAL_DATABASE_URL: a PostgreSQL server to run on (a fresh database is made
 * and dropped); default the embedded database. EVAL_SEED: the world's seed.
 * EVAL_AB_RUNS: runs per A/B scenario with a true difference (default 100);
 * EVAL_AA_RUNS: runs without a difference (default 200). EVAL_ONLY: ab.
 */
const seed = process.env.EVAL_SEED ?? 'herald-eval';
const abRuns = Number(process.env.EVAL_AB_RUNS ?? 100);
const aaRuns = Number(process.env.EVAL_AA_RUNS ?? 200);
const only = process.env.EVAL_ONLY?.split(',').map((s) => s.trim());
const wanted = (name: string) => !only || only.includes(name);

async function main(): Promise<void> {
  const started = performance.now();
  const herald = await startHerald({
    postgresUrl: process.env.EVAL_DATABASE_URL,
    start: new Date('2026-03-02T00:00:00Z'),
  });
  const sink = await startSmtpSink();
  const lines: string[] = [`node ${process.version}, database ${herald.target}, seed "${seed}"`];
  try {
    const harness = createHarness(herald, sink, seed);
    const templateId = await harness.setup();
    if (wanted('ab')) {
      const audience = createWorld(`${seed}:ab`, { contacts: 3600, tag: 'ab' });
      const listId = await harness.addContacts(audience, 'A/B audience');
      const small = createWorld(`${seed}:aa`, { contacts: 800, tag: 'aa' });
      const smallList = await harness.addContacts(small, 'A/A audience');
      const progress = (name: string) => (index: number) => {
        if ((index + 1) % 10 === 0) process.stderr.write(`${name}: ${index + 1} runs\n`);
      };
      lines.push('', '== A/B tests: winner selection (human unique opens, whole audience in the test) ==');
      const right = await runAbScenario(herald, harness, {
        name: 'B opens 1.5x',
        audience,
        listId,
        templateId,
        effect: 1.5,
        runs: abRuns,
        seed,
        onRun: progress('B better'),
      });
      for (const result of right) lines.push(...describeAbScenario(result));
      const none = await runAbScenario(herald, harness, {
        name: 'no difference',
        audience: small,
        listId: smallList,
        templateId,
        effect: 1,
        runs: aaRuns,
        seed,
        onRun: progress('no difference'),
      });
      for (const result of none) lines.push(...describeAbScenario(result));
    }
  } finally {
    await herald.close();
    await sink.close();
  }
  lines.push('', `took ${((performance.now() - started) / 1000).toFixed(0)} s`);
  console.log(lines.join('\n'));
}

await main();
