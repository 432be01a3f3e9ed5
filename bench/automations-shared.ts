/** What the automations benchmark's parent and child share: the journey, its templates, the child's result. */

/** send -> wait 1 minute -> branch on the plan attribute -> send (one of two templates) -> exit. */
export const BENCH_AUTOMATION = {
  trigger: { type: 'api' },
  sender: { from_email: 'news@shop.example', from_name: 'Shop' },
  start: 'welcome',
  nodes: [
    { id: 'welcome', type: 'send_email', template: 'Welcome', next: 'wait' },
    { id: 'wait', type: 'wait', for: { minutes: 1 }, next: 'plan' },
    {
      id: 'plan',
      type: 'branch',
      branches: [{ condition: { attribute: 'plan', operator: 'equals', value: 'pro' }, next: 'pro' }],
      else: 'free',
    },
    { id: 'pro', type: 'send_email', template: 'Pro tips', next: 'done' },
    { id: 'free', type: 'send_email', template: 'Upgrade', next: 'done' },
    { id: 'done', type: 'exit' },
  ],
};

const body = (title: string) =>
  `<h1>${title}, {{ contact.attributes.first_name | default: "there" }}</h1>` +
  '<p>Three things to try this week: {% for i in (1..3) %}tip {{ i }}, {% endfor %}and more.</p>'.repeat(3) +
  '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>';

export const BENCH_TEMPLATES: Record<string, { subject: string; body: string }> = {
  Welcome: { subject: 'Welcome, {{ contact.attributes.first_name }}', body: body('Welcome') },
  'Pro tips': { subject: 'Pro tips for {{ contact.attributes.first_name }}', body: body('Pro tips') },
  Upgrade: { subject: 'Go pro, {{ contact.attributes.first_name }}', body: body('Go pro') },
};

export interface Percentiles {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Total time per statement shape, biggest first (BENCH_AUTOMATIONS_PROFILE=1). */
export type ProfileRow = { sql: string; calls: number; totalMs: number };

interface Phase {
  seconds: number;
  /** The child process's CPU time in the phase (user + system, every thread). */
  cpuSeconds: number;
  profile?: ProfileRow[] | undefined;
}

export interface ChildResult {
  contacts: number;
  baseline: { rows: number; seconds: number; setRows: number; setSeconds: number };
  enrol: Phase;
  first: Phase & { steps: number };
  second: Phase & { steps: number; lag: Percentiles; unfinished: number };
  steady: { rate: number; runs: number; seconds: number; lag: Percentiles; pollMs: number };
  delivery: {
    queued: number;
    seconds: number;
    cpuSeconds: number;
    byStatus: Record<string, number>;
    concurrency: number;
  };
}
