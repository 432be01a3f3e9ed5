import { Type } from 'typebox';
import { NullableTimestamp, PageQuery, Timestamp } from '../../http/schemas.js';

const Uuid = Type.String({ format: 'uuid' });

/**
 * The definition is checked by the automations service, not by the request
 * schema: its errors then name the failing part by JSON pointer and node id
 * (/definition/nodes/3/next, node "wait_1d") with what to change, instead of
 * the schema validator's list of every alternative that did not match.
 */
export const AutomationDefinitionSchema = Type.Unsafe<unknown>({
  type: 'object',
  description:
    '{"trigger": {...}, "sender": {"from_email", "from_name", "reply_to", "transport_id"}, "holdout": {"share": 0 to 0.5}, "entry": {"mode": "once" | "once_at_a_time" | "again_after", "days"}, "instance_key", "exit_on": [...], ' +
    '"goal": {"event", "where", "node"}, "start": node id, "nodes": [...]}. Triggers: event, contact_created, list_subscribed, ' +
    'list_confirmed, segment_entered, segment_exited, date_attribute, engagement, api, schedule. Nodes: send_email, wait, wait_for, ' +
    'branch, random_split (optionally a bandit: {"metric": "opened" | "clicked" | "converted", "window_hours": 24}), update_contact, webhook, goal, exit. See the README section "Automations" for every field.',
  examples: [
    {
      trigger: {
        type: 'event',
        event: 'Cart Updated',
        where: [{ property: 'total', operator: 'greater_than', value: 0 }],
      },
      sender: { from_email: 'news@shop.example', from_name: 'Shop' },
      entry: { mode: 'once' },
      instance_key: 'cart_id',
      goal: { event: 'Order Completed', node: 'purchased' },
      start: 'wait_4h',
      nodes: [
        { id: 'wait_4h', type: 'wait', for: { hours: 4 }, next: 'reminder' },
        { id: 'reminder', type: 'send_email', template: 'Cart reminder', next: 'done' },
        { id: 'purchased', type: 'goal' },
        { id: 'done', type: 'exit' },
      ],
    },
  ],
});

const AutomationStatusSchema = Type.Union(
  [Type.Literal('draft'), Type.Literal('active'), Type.Literal('paused'), Type.Literal('archived')],
  {
    description:
      'draft: never published; active: published and enrolling; paused: published, enrolling nobody and holding runs; archived: stopped for good.',
  },
);

const fields = {
  name: Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'Unique per workspace (case-insensitive).',
  }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
};

export const AutomationCreateBody = Type.Object(
  { ...fields, definition: AutomationDefinitionSchema },
  { additionalProperties: false },
);

export const AutomationPatchBody = Type.Object(
  {
    name: Type.Optional(fields.name),
    description: fields.description,
    definition: Type.Optional(AutomationDefinitionSchema),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const AutomationSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    status: AutomationStatusSchema,
    draft_definition: Type.Unsafe<unknown>({
      type: 'object',
      additionalProperties: true,
      description: 'The working copy; it takes effect when published.',
    }),
    current_version: Type.Union([Type.Integer(), Type.Null()], {
      description: 'The version new contacts enter; null until the first publish.',
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'Automation' },
);

export const AutomationVersionSchema = Type.Object(
  {
    id: Uuid,
    automation_id: Uuid,
    version: Type.Integer(),
    definition: Type.Unsafe<unknown>({
      type: 'object',
      additionalProperties: true,
      description: 'The published definition with its defaults written out. Never changes.',
    }),
    resolved: Type.Unsafe<unknown>({
      type: 'object',
      additionalProperties: true,
      description:
        'What publishing pinned: {"emails": {"<node id>": {"template_id", "template_version_id", "template_name"}}}.',
    }),
    published_at: Timestamp,
  },
  { title: 'AutomationVersion' },
);

export const AutomationListQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(AutomationStatusSchema) },
  { additionalProperties: false },
);

export const VersionListQuery = Type.Object(PageQuery, { additionalProperties: false });

export const VersionParams = Type.Object(
  { id: Uuid, version: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }) },
  { additionalProperties: false },
);

export const ValidateBody = Type.Object(
  { definition: AutomationDefinitionSchema },
  { additionalProperties: false },
);

export const ValidationSchema = Type.Object(
  {
    valid: Type.Boolean(),
    errors: Type.Array(
      Type.Object(
        {
          path: Type.Optional(Type.String({ description: 'JSON pointer into the request body.' })),
          node: Type.Optional(Type.String({ description: 'The id of the node the error is about.' })),
          message: Type.String(),
        },
        { additionalProperties: true },
      ),
    ),
  },
  { title: 'AutomationValidation' },
);

const ContactRef = Type.Object(
  {
    id: Type.Optional(Uuid),
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
    external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    description: 'Exactly one of id, email, external_id.',
  },
);

export const EnrollBody = Type.Object(
  {
    contact: ContactRef,
    instance_key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'Required when the automation has an instance_key (one run per value, such as a cart id).',
      }),
    ),
    data: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'Available to the emails of this run as {{ automation.data }}.',
      }),
    ),
  },
  { additionalProperties: false },
);

const RunStatusSchema = Type.Union(
  [Type.Literal('active'), Type.Literal('completed'), Type.Literal('exited'), Type.Literal('failed')],
  {
    description:
      'active: inside (due at next_run_at); completed: reached a goal or exit node; exited: left (exit_on, archived, contact deleted); failed: a step could not be executed (exit_reason says why).',
  },
);

export const RunSchema = Type.Object(
  {
    id: Uuid,
    automation_id: Uuid,
    version: Type.Integer({ description: 'The version the contact entered and stays on.' }),
    contact_id: Uuid,
    instance_key: Type.Union([Type.String(), Type.Null()]),
    status: RunStatusSchema,
    node: Type.String({ description: 'The node the run executes next (or waits in).' }),
    step: Type.Integer({ description: 'Node executions so far.' }),
    next_run_at: NullableTimestamp,
    waiting: Type.Unsafe<unknown>({
      description: 'What a wait_for waits for, with its deadline; null otherwise.',
    }),
    exit_reason: Type.Union([Type.String(), Type.Null()], {
      description:
        'goal, exit, unsubscribed, bounced, complained, archived, contact_deleted, holdout (the contact is in the holdout group: the run ended at enrolment, status exited, and executed nothing), or the failure.',
    }),
    entered_at: Timestamp,
    finished_at: NullableTimestamp,
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { title: 'AutomationRun' },
);

export const StepSchema = Type.Object(
  {
    step: Type.Integer(),
    node_id: Type.String(),
    executed_at: Timestamp,
    outcome: Type.Record(Type.String(), Type.Unknown(), {
      description:
        'message_id (send_email), until (wait), branch, path (random_split; with bandit: "prior" or "thompson", how a bandit split chose, and repeated: true when the run had chosen before), timed_out, exited, skipped, error.',
    }),
  },
  { title: 'AutomationStepExecution' },
);

export const RunWithStepsSchema = Type.Intersect(
  [RunSchema, Type.Object({ steps: Type.Array(StepSchema) })],
  {
    title: 'AutomationRunWithSteps',
  },
);

export const EnrollResultSchema = Type.Object(
  {
    enrolled: Type.Boolean(),
    reason: Type.Optional(
      Type.Union(
        [
          Type.Literal('already_inside'),
          Type.Literal('once_ever'),
          Type.Literal('again_after_not_reached'),
          Type.Literal('contact_suppressed'),
          Type.Literal('duplicate_trigger'),
        ],
        { description: 'Why the contact was not enrolled (enrolled false).' },
      ),
    ),
    message: Type.Optional(Type.String()),
    run: Type.Optional(RunSchema),
  },
  { title: 'AutomationEnrollment' },
);

export const RunListQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(RunStatusSchema) },
  { additionalProperties: false },
);

export const RunParams = Type.Object({ id: Uuid, runId: Uuid }, { additionalProperties: false });

const TimeWithZone = Type.String({
  description: 'A time with its zone, such as 2026-12-01T09:00:00Z.',
  examples: ['2026-12-01T09:00:00Z'],
});

export const SimulateBody = Type.Object(
  {
    contact: Type.Optional(ContactRef),
    sample: Type.Optional(
      Type.Object(
        {
          email: Type.Optional(Type.String({ minLength: 3, maxLength: 320 })),
          status: Type.Optional(
            Type.Union(
              ['active', 'unsubscribed', 'bounced', 'complained', 'blocked'].map((s) => Type.Literal(s)),
            ),
          ),
          attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 })),
          timezone: Type.Optional(Type.Union([Type.String(), Type.Null()])),
          locale: Type.Optional(Type.Union([Type.String(), Type.Null()])),
        },
        {
          additionalProperties: false,
          description:
            'A made-up contact, used instead of `contact`: conditions see these attributes, tags and time zone (random_split places it by a random id).',
        },
      ),
    ),
    version: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('draft')], {
        description:
          'A published version, or "draft" (checked as publishing would). Default: the current version.',
      }),
    ),
    start_at: Type.Optional({ ...TimeWithZone, description: 'When the contact enters. Default: now.' }),
    until: Type.Optional({
      ...TimeWithZone,
      description: 'How far to look ahead. Default and most: 2 years after start_at.',
    }),
    data: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: "The run's data, as the trigger would give it.",
      }),
    ),
    instance_key: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    timeline: Type.Optional(
      Type.Array(
        Type.Object(
          {
            at: TimeWithZone,
            event: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            properties: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
            engagement: Type.Optional(Type.Union([Type.Literal('opened'), Type.Literal('clicked')])),
          },
          {
            additionalProperties: false,
            description:
              "A track event the contact performs (`event`, `properties`), or an open or click of the run's previous email (`engagement`).",
          },
        ),
        { maxItems: 1000 },
      ),
    ),
  },
  { additionalProperties: false },
);

export const ReportQuery = Type.Object(
  {
    from: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'Count only the runs that entered at or after this instant (default: since the first).',
      }),
    ),
    to: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'Count only the runs that entered before this instant (default: up to now).',
      }),
    ),
  },
  { additionalProperties: false },
);

export const SimulationSchema = Type.Object(
  {
    automation_id: Uuid,
    version: Type.Union([Type.Integer(), Type.Literal('draft')]),
    contact: Type.Object({
      id: Type.Union([Uuid, Type.Null()], { description: 'null for a sample contact.' }),
      sample: Type.Boolean(),
    }),
    started_at: Timestamp,
    steps: Type.Array(
      Type.Object({
        step: Type.Integer(),
        node: Type.String(),
        type: Type.String(),
        at: Timestamp,
        outcome: Type.Record(Type.String(), Type.Unknown(), {
          description:
            'As in a real run: branch / path index (a bandit split also gives `bandit`, how it chose, and `shares`, the share of new runs each path gets on the current evidence), until, deferred (quiet_hours, frequency_cap), timed_out, event, goal, exited.',
        }),
      }),
      { description: 'Every node execution, in order, as the engine would record them.' },
    ),
    emails: Type.Array(
      Type.Object({
        step: Type.Integer(),
        node: Type.String(),
        at: Timestamp,
        template_id: Uuid,
        template_version_id: Uuid,
        template_name: Type.String(),
        kind: Type.Union([Type.Literal('marketing'), Type.Literal('transactional')]),
      }),
      { description: 'The emails that would be sent, and when.' },
    ),
    webhooks: Type.Array(
      Type.Object({ step: Type.Integer(), node: Type.String(), at: Timestamp, url: Type.String() }),
    ),
    end: Type.Object({
      status: Type.Union(
        ['completed', 'exited', 'failed', 'active'].map((s) => Type.Literal(s)),
        {
          description: 'active: still inside at `until`.',
        },
      ),
      reason: Type.Union([Type.String(), Type.Null()]),
      node: Type.String(),
      at: NullableTimestamp,
      next_run_at: NullableTimestamp,
    }),
  },
  { title: 'AutomationSimulation' },
);

const Count = (description: string) => Type.Integer({ minimum: 0, description });
const Ratio = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });

const HitCounts = (what: string) =>
  Type.Object(
    {
      total: Count(`Every ${what}, by people and machines.`),
      unique: Count(`Emails with at least one ${what}.`),
      human: Count(`${what[0]?.toUpperCase()}${what.slice(1)}s classified human or proxy (people).`),
      human_unique: Count(`Emails with at least one ${what} by a person (human or proxy).`),
    },
    {
      description: `As in the campaign report; unique counts count emails (a campaign sends one per contact, so there it counts contacts). Machines (prefetch, scanner, bot) count in total and unique only.`,
    },
  );

const ReportRevenue = Type.Array(
  Type.Object({
    currency: Type.String({ description: 'ISO 4217 code.' }),
    amount: Type.String({ description: 'Exact decimal sum, with the currency minor digits ("49.90").' }),
    conversions: Count('Conversions with revenue in this currency.'),
  }),
  { description: 'Per currency, ordered by code; conversions without revenue are in count only.' },
);

const ReportConversions = (scope: string) =>
  Type.Object(
    {
      count: Count(
        `Conversions attributed to a click on ${scope} (the analytics attribution: the click named by click_id, else the contact's last human click within the attribution window).`,
      ),
      converting_runs: Count('Runs with at least one such conversion.'),
      revenue: ReportRevenue,
    },
    { description: `Conversions credited to ${scope}.` },
  );

const NodeReportSchema = Type.Object(
  {
    id: Type.String({ description: 'The node id.' }),
    type: Type.Union([Type.String(), Type.Null()], {
      description:
        'The node type in the newest version that has the node (send_email, wait, branch, ...); null if no version defines it.',
    }),
    versions: Type.Array(Type.Integer(), {
      description:
        'The versions whose runs reached this node (executed it or are in it), ascending. Counts add up over them.',
    }),
    in_current_version: Type.Boolean({
      description: 'false for a node only older versions have (its runs are still reported).',
    }),
    entered: Count(
      'Runs that reached the node: executed it at least once, or were just enrolled at this start node.',
    ),
    waiting: Count(
      'Active runs in the node now: their latest step was here (waiting in a wait or wait_for, or about to go on), or they are enrolled here and have not started.',
    ),
    completed: Count('Runs that left the node for the next one, or completed here (goal and exit nodes).'),
    exited: Count('Runs that exited in this node (exit_on status, archived, contact deleted).'),
    failed: Count('Runs that failed in this node.'),
    executions: Count(
      'Step executions of the node. Above entered only when runs pass it more than once (a loop); then a run can count in both waiting and completed.',
    ),
    email: Type.Union(
      [
        Type.Object({
          sent: Count('Emails the transport accepted.'),
          failed: Count(
            'Emails that failed for good, including those refused at acceptance because the contact was suppressed.',
          ),
          queued: Count('Emails accepted and not sent yet.'),
          opens: HitCounts('open'),
          clicks: HitCounts('click'),
          conversions: ReportConversions("this node's emails"),
        }),
        Type.Null(),
      ],
      { description: 'send_email nodes only; null for the others.' },
    ),
    goal_reached: Type.Union([Count('Runs that reached the goal here.'), Type.Null()], {
      description: 'goal nodes only: runs that reached the goal (and completed); null for the others.',
    }),
    paths: Type.Union(
      [
        Type.Array(
          Type.Object({
            path: Type.String({
              description:
                'branch: the branch index ("0", "1", ...) or "else"; random_split: the path index.',
            }),
            next: Type.Union([Type.String(), Type.Null()], {
              description:
                'Where it leads in the newest version with the node; null for a way only older versions had.',
            }),
            count: Count('Executions that went this way.'),
          }),
        ),
        Type.Null(),
      ],
      { description: 'branch and random_split nodes only: how many went each way; null for the others.' },
    ),
  },
  { title: 'AutomationNodeReport' },
);

export const AutomationReportSchema = Type.Object(
  {
    automation_id: Uuid,
    name: Type.String(),
    status: AutomationStatusSchema,
    current_version: Type.Union([Type.Integer(), Type.Null()]),
    from: Type.Union([Timestamp, Type.Null()], { description: 'The window asked for; null: open.' }),
    to: Type.Union([Timestamp, Type.Null()], { description: 'The window asked for; null: open.' }),
    runs: Type.Object(
      {
        entered: Count(
          'Runs that entered in the window (one per enrolment), besides those held out: every other figure is about these.',
        ),
        held_out: Count(
          'Runs of contacts in the holdout group (exited at enrolment, reason holdout): they executed nothing and are counted here only. See GET /v1/automations/{id}/holdout.',
        ),
        active: Count('Of those, still inside.'),
        completed: Count('Reached a goal or exit node.'),
        exited: Count('Left early: exit_on status, archived, contact deleted.'),
        failed: Count('A step could not be executed.'),
        goal_reached: Count('Completed at the goal node (part of completed).'),
      },
      {
        description:
          'Every figure of the report is about these runs: their steps, emails, hits and conversions, whenever they happened.',
      },
    ),
    emails: Type.Object(
      {
        sent: Count('Emails the transport accepted, all send_email nodes.'),
        failed: Count('Emails that failed for good (also suppressed contacts).'),
        queued: Count('Emails accepted and not sent yet.'),
      },
      { description: "Sums of the nodes' emails." },
    ),
    opens: HitCounts('open'),
    clicks: HitCounts('click'),
    conversions: ReportConversions("the automation's emails"),
    rates: Type.Object(
      {
        open_rate: Ratio('opens.human_unique / emails.sent, as in the campaign report.'),
        click_rate: Ratio('clicks.human_unique / emails.sent.'),
        click_to_open_rate: Ratio('clicks.human_unique / opens.human_unique.'),
        goal_rate: Ratio('runs.goal_reached / runs.entered.'),
        conversion_rate: Ratio(
          'conversions.converting_runs / runs.entered: the share of runs with at least one conversion attributed to one of their emails.',
        ),
      },
      { description: 'Between 0 and 1, rounded to 6 decimals; null when the denominator is 0.' },
    ),
    nodes: Type.Array(NodeReportSchema, {
      description:
        "Every node of the current version (of the draft, before the first publish) in definition order, then the nodes only older versions' runs reached.",
    }),
  },
  { title: 'AutomationReport' },
);

const Interval95 = Type.Object(
  { lower: Type.Number(), upper: Type.Number() },
  { description: '95% interval.' },
);

export const BanditReportSchema = Type.Object(
  {
    automation_id: Uuid,
    computed_at: Timestamp,
    nodes: Type.Array(
      Type.Object({
        node_id: Type.String(),
        in_current_version: Type.Boolean({
          description: 'false for a bandit split only older versions have (its evidence is still shown).',
        }),
        versions: Type.Array(Type.Integer(), {
          description: 'The published versions with this node as a bandit split, ascending.',
        }),
        metric: Type.Union([Type.Literal('opened'), Type.Literal('clicked'), Type.Literal('converted')]),
        window_hours: Type.Integer({ description: 'How long an outcome is awaited.' }),
        chosen_by: Type.Union([Type.Literal('prior'), Type.Literal('thompson')], {
          description:
            'How a new run chooses now: prior (the path percents, while some path has no known outcome) or thompson (a draw from each path posterior, the highest wins).',
        }),
        paths: Type.Array(
          Type.Object({
            path: Type.Integer({ description: 'The path index in the definition.' }),
            next: Type.Union([Type.String(), Type.Null()], {
              description:
                'Where it leads in the newest version with the node; null for a path only older versions had.',
            }),
            percent: Type.Union([Type.Integer(), Type.Null()], {
              description: 'The configured percent: the prior allocation.',
            }),
            runs: Count('Runs that took the path (every version with this node id and metric).'),
            trials: Count(
              'Of those, runs whose outcome is known: the path email was sent window_hours ago or more (converted: the choice was), or it already succeeded. Runs whose path email failed or never came are no trials.',
            ),
            successes: Count(
              'Trials that succeeded: an open / click of the path first email by a person (human or proxy; never prefetch, scanner or bot) within the window; converted: a conversion of the contact within the window.',
            ),
            posterior_mean: Type.Number({
              description: '(1 + successes) / (2 + trials): the mean of Beta(1 + successes, 1 + failures).',
            }),
            credible_interval: Interval95,
            probability_to_be_best: Type.Union([Type.Number(), Type.Null()], {
              description:
                'Probability that this path has the highest rate under the posteriors (seeded Monte Carlo, 20,000 draws: the same counts give the same figure); null for a path the newest version no longer has.',
            }),
            share_of_new_runs: Type.Union([Type.Number(), Type.Null()], {
              description:
                'The probability that a new run takes this path now: percent / 100 while chosen_by is prior, else probability_to_be_best (what Thompson sampling does).',
            }),
          }),
        ),
      }),
      {
        description:
          'Every bandit split of the current version (of the draft before the first publish), then those only older versions had.',
      },
    ),
  },
  { title: 'AutomationBanditReport' },
);

const HoldoutGroup = Type.Object({
  contacts: Count('Contacts in the group (each once, in the group of its first run in the window).'),
  converters: Count('Of those, contacts with a conversion from enrolment for the attribution window.'),
  conversion_rate: Type.Number({ description: 'converters / contacts (0 without contacts).' }),
  interval: { ...Interval95, description: '95% Wilson interval of the conversion rate.' },
  revenue: Type.Array(
    Type.Object({
      currency: Type.String(),
      amount: Type.String({ description: 'Exact decimal sum, with the currency minor digits.' }),
    }),
  ),
});

export const HoldoutReportSchema = Type.Object(
  {
    automation_id: Uuid,
    holdout_share: Type.Number({ description: "The current version's share (0: none now)." }),
    window_hours: Type.Integer({
      description:
        'Conversions count from enrolment for this long: the attribution window (HERALD_ATTRIBUTION_WINDOW_HOURS).',
    }),
    from: Type.Union([Timestamp, Type.Null()], { description: 'The window asked for; null: open.' }),
    to: Type.Union([Timestamp, Type.Null()], { description: 'The window asked for; null: open.' }),
    treated: HoldoutGroup,
    holdout: HoldoutGroup,
    lift: Type.Object({
      difference: Type.Number({ description: 'Conversion rate treated minus held out.' }),
      interval: { ...Interval95, description: '95% (Wald) interval of the difference.' },
      relative: Type.Union([Type.Number(), Type.Null()], {
        description:
          'Relative lift, treated rate / held-out rate - 1; null when no held-out contact converted.',
      }),
      p_value: Type.Number({ description: 'Two-sided, two-proportion z-test.' }),
      revenue_per_contact: Type.Array(
        Type.Object({
          currency: Type.String(),
          treated: Type.Number(),
          holdout: Type.Number(),
          difference: Type.Number(),
        }),
      ),
    }),
  },
  { title: 'AutomationHoldoutReport' },
);
