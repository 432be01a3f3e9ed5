import { performance } from 'node:perf_hooks';
import { startSmtpSink } from '../test/helpers/smtp-sink.js';
import { describeAbScenario, runAbScenario } from './ab-tests.js';
import { describeEngagementEval, runEngagementEval } from './engagement.js';
import { createHarness, type Harness, type HeraldUnderTest } from './simulator/harness.js';
import { startHerald } from './simulator/herald.js';
import { createWorld } from './simulator/world.js';

/**
 * `npm run eval`: Herald's experiments and predictions on simulated
 * workspaces with a known truth, through the real sending pipeline and
 * tracking endpoints. Each part gets a fresh Herald (its own database).
 *
 * EVAL_DATABASE_URL: a PostgreSQL server to run on (a fresh database is made
 * and dropped per part); default the embedded database. EVAL_SEED: the
 * worlds' seed. EVAL_ONLY: ab, engagement (default both).
 * EVAL_AB_RUNS: A/B runs with a true difference (default 100); EVAL_AA_RUNS:
 * runs without one (default 200). EVAL_ENGAGEMENT_CONTACTS: audience of the
 * send-time and prediction part (default 4000).
 */
const seed = process.env.EVAL_SEED ?? 'herald-eval';
const abRuns = Number(process.env.EVAL_AB_RUNS ?? 100);
const aaRuns = Number(process.env.EVAL_AA_RUNS ?? 200);
const engagementContacts = Number(process.env.EVAL_ENGAGEMENT_CONTACTS ?? 4000);
const only = process.env.EVAL_ONLY?.split(',').map((s) => s.trim());
const known = ['ab', 'engagement'];
const unknown = only?.filter((name) => !known.includes(name)) ?? [];
if (unknown.length > 0) throw new Error(`unknown eval ${unknown.join(', ')}; known: ${known.join(', ')}`);
const wanted = (name: string) => !only || only.includes(name);

async function withHerald<T>(
  work: (herald: HeraldUnderTest, harness: Harness, templateId: string) => Promise<T>,
) {
  const herald = await startHerald({
    postgresUrl: process.env.EVAL_DATABASE_URL,
    start: new Date('2026-03-02T00:00:00Z'),
  });
  const sink = await startSmtpSink();
  try {
    const harness = createHarness(herald, sink, seed);
    return { target: herald.target, result: await work(herald, harness, await harness.setup()) };
  } finally {
    await herald.close();
    await sink.close();
  }
}

const progress = (name: string) => (message: string) => process.stderr.write(`${name}: ${message}\n`);

async function main(): Promise<void> {
  const started = performance.now();
  const lines: string[] = [`node ${process.version}, seed "${seed}"`];
  if (wanted('ab')) {
    const { target, result } = await withHerald(async (herald, harness, templateId) => {
      const audience = createWorld(`${seed}:ab`, { contacts: 3600, tag: 'ab' });
      const listId = await harness.addContacts(audience, 'A/B audience');
      const small = createWorld(`${seed}:aa`, { contacts: 800, tag: 'aa' });
      const smallList = await harness.addContacts(small, 'A/A audience');
      const every10 = (name: string) => (index: number) => {
        if ((index + 1) % 10 === 0) progress(name)(`${index + 1} runs`);
      };
      const right = await runAbScenario(herald, harness, {
        name: 'B opens 1.5x',
        audience,
        listId,
        templateId,
        effect: 1.5,
        runs: abRuns,
        seed,
        onRun: every10('A/B, B better'),
      });
      const none = await runAbScenario(herald, harness, {
        name: 'no difference',
        audience: small,
        listId: smallList,
        templateId,
        effect: 1,
        runs: aaRuns,
        seed,
        onRun: every10('A/B, no difference'),
      });
      return [...right, ...none].flatMap(describeAbScenario);
    });
    lines.push(
      '',
      `== A/B tests: winner selection on human unique opens, whole audience in the test (${target}) ==`,
      ...result,
    );
  }
  if (wanted('engagement')) {
    const fixedHour = 9;
    const { target, result } = await withHerald(async (herald, harness, templateId) =>
      runEngagementEval(herald, harness, {
        world: createWorld(`${seed}:engagement`, { contacts: engagementContacts, tag: 'eng' }),
        templateId,
        seed,
        fixedHour,
        onProgress: progress('engagement'),
      }),
    );
    lines.push(
      '',
      `== Send-time optimization and engagement prediction (${target}) ==`,
      ...describeEngagementEval(result, fixedHour),
    );
  }
  lines.push('', `took ${((performance.now() - started) / 1000).toFixed(0)} s`);
  console.log(lines.join('\n'));
}

await main();
