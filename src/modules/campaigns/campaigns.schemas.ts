import { Type } from 'typebox';
import { NullableTimestamp, PageQuery, Timestamp } from '../../http/schemas.js';

export const CampaignStatusSchema = Type.Union(
  [
    Type.Literal('draft'),
    Type.Literal('scheduled'),
    Type.Literal('sending'),
    Type.Literal('testing'),
    Type.Literal('paused'),
    Type.Literal('sent'),
    Type.Literal('cancelled'),
  ],
  {
    description:
      'draft, scheduled, sending, testing (an A/B test group is sent and the test window runs, or the test waits for a person to choose the winner), paused, sent or cancelled',
  },
);

const Uuid = Type.String({ format: 'uuid' });
const NullableText = (maxLength: number, description?: string) =>
  Type.Union([Type.String({ maxLength }), Type.Null()], description ? { description } : {});

const Metric = Type.Union(
  [
    Type.Literal('human_unique_opens'),
    Type.Literal('human_unique_clicks'),
    Type.Literal('click_to_open'),
    Type.Literal('conversions'),
    Type.Literal('revenue_per_recipient'),
  ],
  {
    description:
      'What decides the winner, per test recipient within window_minutes of their send: human_unique_opens (machine opens such as Apple Mail Privacy Protection prefetches never count), human_unique_clicks, click_to_open (human clickers among human openers), conversions (recipients with a conversion), revenue_per_recipient (in revenue_currency).',
  },
);
const Method = Type.Union([Type.Literal('frequentist'), Type.Literal('bayesian')], {
  description:
    'frequentist: the leader must beat every other variant in a two-proportion z-test with Yates continuity correction (Welch t-test for revenue), Holm-corrected for the number of comparisons, at 1 - confidence; bayesian: the leader needs a posterior probability to beat all others of at least confidence (Beta(1,1) priors; a normal approximation for revenue).',
});
const Policy = Type.Union([Type.Literal('send_control'), Type.Literal('send_leader'), Type.Literal('wait')], {
  description:
    'When no variant wins: send_control sends the first variant to the remainder, send_leader the best-performing one, wait keeps the campaign in status testing until someone chooses (POST /v1/campaigns/{id}/ab-test/winner).',
});

const VariantInput = Type.Object(
  {
    name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 50, description: 'Default A, B, C, ... by position.' }),
    ),
    subject: Type.Optional(NullableText(998, "Liquid; the campaign's subject when null.")),
    preheader: Type.Optional(NullableText(500, "Liquid; the campaign's preheader when null.")),
    from_name: Type.Optional(NullableText(200, "The campaign's from_name when null.")),
    template_id: Type.Optional(
      Type.Union([Uuid, Type.Null()], { description: "The campaign's template when null." }),
    ),
    send_delay_minutes: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 10080,
        description: 'A send-time variant: its test recipients are sent this many minutes after the start.',
      }),
    ),
  },
  { additionalProperties: false },
);

const AbTestInput = Type.Object(
  {
    variants: Type.Array(VariantInput, {
      minItems: 2,
      maxItems: 8,
      description:
        'The first is the control. Variants differ in subject, preheader, from_name, template or send time; they share the sender address, transport and audience.',
    }),
    test_share: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 1,
        description:
          'Share of the audience in the test group (default 0.2), split evenly between the variants by a seeded random draw stratified by mailbox provider; the rest waits for the winner. 1: everyone is in the test (a report, nothing left to send).',
      }),
    ),
    metric: Type.Optional(Metric),
    method: Type.Optional(Method),
    confidence: Type.Optional(
      Type.Number({
        minimum: 0.5,
        exclusiveMaximum: 1,
        description: 'Default 0.95 for frequentist (alpha 0.05) and 0.975 for bayesian.',
      }),
    ),
    window_minutes: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 43200,
        description:
          'How long after the last test recipient is sent the winner is chosen (default 240); each recipient is judged on what they did within this time of their own send.',
      }),
    ),
    when_inconclusive: Type.Optional(Policy),
    revenue_currency: Type.Optional(
      Type.Union([Type.String({ pattern: '^[A-Z]{3}$' }), Type.Null()], {
        description: 'Required for revenue_per_recipient: only conversions in this currency count.',
      }),
    ),
  },
  { additionalProperties: false },
);

const AbTestView = Type.Object(
  {
    variants: Type.Array(
      Type.Object({
        name: Type.String(),
        subject: Type.Union([Type.String(), Type.Null()]),
        preheader: Type.Union([Type.String(), Type.Null()]),
        from_name: Type.Union([Type.String(), Type.Null()]),
        template_id: Type.Union([Type.String(), Type.Null()]),
        template_version_id: Type.Union([Type.String(), Type.Null()]),
        send_delay_minutes: Type.Integer(),
      }),
    ),
    test_share: Type.Number(),
    metric: Metric,
    method: Method,
    confidence: Type.Number(),
    window_minutes: Type.Integer(),
    when_inconclusive: Policy,
    revenue_currency: Type.Union([Type.String(), Type.Null()]),
    phase: Type.Union(
      [Type.Literal('pending'), Type.Literal('testing'), Type.Literal('waiting'), Type.Literal('decided')],
      {
        description:
          'pending (not started), testing (test group sending or measured), waiting (inconclusive; a person chooses), decided',
      },
    ),
    test_size: Type.Union([Type.Integer(), Type.Null()]),
    test_sent_at: NullableTimestamp,
    decide_at: NullableTimestamp,
    winner: Type.Union([Type.String(), Type.Null()], { description: 'The winning variant by name.' }),
    decided_at: NullableTimestamp,
    decided_by: Type.Union([
      Type.Literal('test'),
      Type.Literal('policy'),
      Type.Literal('manual'),
      Type.Null(),
    ]),
  },
  { title: 'CampaignAbTest' },
);

const settings = {
  from_name: Type.Optional(NullableText(200)),
  from_email: Type.Optional(
    NullableText(320, 'Sender address; its domain should be a verified sending domain.'),
  ),
  reply_to: Type.Optional(NullableText(320)),
  subject: Type.Optional(NullableText(998, "Liquid; replaces the template version's subject when set.")),
  preheader: Type.Optional(NullableText(500, "Liquid; replaces the template version's preheader when set.")),
  template_id: Type.Optional(Type.Union([Uuid, Type.Null()])),
  transport_id: Type.Optional(
    Type.Union([Uuid, Type.Null()], {
      description: "Transport to send through; the workspace's default when null.",
    }),
  ),
  rate_limit_per_second: Type.Optional(
    Type.Union([Type.Integer({ minimum: 1, maximum: 100000 }), Type.Null()], {
      description: "At most this many messages per second, on top of the transport's own limit.",
    }),
  ),
  track_opens: Type.Optional(
    Type.Boolean({ description: 'Add the open pixel to HTML messages (default true).' }),
  ),
  track_clicks: Type.Optional(
    Type.Boolean({
      description:
        'Rewrite static links to signed click redirects (default true); links with data-herald-notrack stay as they are.',
    }),
  ),
  utm_source: Type.Optional(
    NullableText(200, 'Appended to tracked links as utm_source unless the URL has one.'),
  ),
  utm_medium: Type.Optional(
    NullableText(200, 'Appended to tracked links as utm_medium unless the URL has one.'),
  ),
  utm_campaign: Type.Optional(
    NullableText(200, 'Appended to tracked links as utm_campaign unless the URL has one.'),
  ),
  utm_content: Type.Optional(
    NullableText(200, 'Appended to tracked links as utm_content unless the URL has one.'),
  ),
  utm_term: Type.Optional(NullableText(200, 'Appended to tracked links as utm_term unless the URL has one.')),
  failure_threshold: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      description: 'Sending pauses itself when this share of recipients has failed (default 0.2).',
    }),
  ),
  hard_bounce_threshold: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      description:
        "Guardrail: sending pauses itself when hard bounces / recipients sent so far pass this share, after guardrail_min_sent recipients (default: the workspace's, in /v1/deliverability/settings, else 0.05: ESPs commonly suspend senders at 5-10%).",
    }),
  ),
  complaint_threshold: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      description:
        "Guardrail: sending pauses itself when spam complaints / recipients sent so far pass this share, after guardrail_min_sent recipients (default: the workspace's, in /v1/deliverability/settings, else 0.003, the Gmail/Yahoo bulk-sender limit; aim under 0.001).",
    }),
  ),
  guardrail_min_sent: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 100_000_000,
      description:
        "Recipients sent before the bounce and complaint guardrails judge the rates (default: the workspace's, in /v1/deliverability/settings, else 500: on a smaller sample one complaint would already pause).",
    }),
  ),
  lists: Type.Optional(
    Type.Array(Uuid, { maxItems: 100, description: 'Lists whose members receive the campaign.' }),
  ),
  exclude_lists: Type.Optional(
    Type.Array(Uuid, { maxItems: 100, description: 'Lists whose current members never receive it.' }),
  ),
  segment_id: Type.Optional(
    Type.Union([Uuid, Type.Null()], {
      description:
        "A segment whose active contacts receive the campaign too (with the included lists' members, each once). Evaluated live at every claim while sending.",
    }),
  ),
  exclude_segment_ids: Type.Optional(
    Type.Array(Uuid, {
      maxItems: 20,
      description: 'Segments whose contacts never receive it (evaluated live, like the audience segment).',
    }),
  ),
  ab_test: Type.Optional(
    Type.Union([AbTestInput, Type.Null()], {
      description: 'An A/B/n test; null removes it. See GET /v1/campaigns/{id}/ab-test for its results.',
    }),
  ),
  holdout_share: Type.Optional(
    Type.Number({
      minimum: 0,
      maximum: 0.5,
      description:
        'Share of the audience held back as a control group that receives nothing (default 0), drawn at random with random_seed; GET /v1/campaigns/{id}/holdout compares their conversions with the recipients (lift).',
    }),
  ),
  send_time_optimization: Type.Optional(
    Type.Boolean({
      description:
        "Deliver to each contact in their own best hour of the week within 24 hours of the start, learned from their human opens and clicks (the workspace's best hour for contacts without history). Rate limits and quiet hours still apply.",
    }),
  ),
  random_seed: Type.Optional(
    Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()], {
      description: 'Seeds the holdout draw and the A/B split; random when sending starts if not set.',
    }),
  ),
};

export const CampaignCreateBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200 }), ...settings },
  { additionalProperties: false },
);

export const CampaignPatchBody = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), ...settings },
  { additionalProperties: false, minProperties: 1 },
);

export const CampaignWarningSchema = Type.Object(
  {
    code: Type.Union([Type.Literal('POSTAL_ADDRESS_MISSING')], {
      description:
        'POSTAL_ADDRESS_MISSING: the workspace has no postal_address, so the email carries none (CAN-SPAM requires one in commercial email).',
    }),
    message: Type.String({ description: 'What is wrong and how to fix it.' }),
  },
  { title: 'CampaignWarning' },
);

export const CampaignSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    status: CampaignStatusSchema,
    from_name: Type.Union([Type.String(), Type.Null()]),
    from_email: Type.Union([Type.String(), Type.Null()]),
    reply_to: Type.Union([Type.String(), Type.Null()]),
    subject: Type.Union([Type.String(), Type.Null()]),
    preheader: Type.Union([Type.String(), Type.Null()]),
    template_id: Type.Union([Type.String(), Type.Null()]),
    template_version_id: Type.Union([Type.String(), Type.Null()]),
    transport_id: Type.Union([Type.String(), Type.Null()]),
    rate_limit_per_second: Type.Union([Type.Integer(), Type.Null()]),
    track_opens: Type.Boolean(),
    track_clicks: Type.Boolean(),
    utm_source: Type.Union([Type.String(), Type.Null()]),
    utm_medium: Type.Union([Type.String(), Type.Null()]),
    utm_campaign: Type.Union([Type.String(), Type.Null()]),
    utm_content: Type.Union([Type.String(), Type.Null()]),
    utm_term: Type.Union([Type.String(), Type.Null()]),
    failure_threshold: Type.Number(),
    hard_bounce_threshold: Type.Number(),
    complaint_threshold: Type.Number(),
    guardrail_min_sent: Type.Integer(),
    lists: Type.Array(Type.String()),
    exclude_lists: Type.Array(Type.String()),
    segment_id: Type.Union([Type.String(), Type.Null()]),
    exclude_segment_ids: Type.Array(Type.String()),
    ab_test: Type.Union([AbTestView, Type.Null()]),
    holdout_share: Type.Number(),
    send_time_optimization: Type.Boolean(),
    random_seed: Type.Union([Type.String(), Type.Null()]),
    scheduled_at: NullableTimestamp,
    started_at: NullableTimestamp,
    finished_at: NullableTimestamp,
    status_reason: Type.Union([Type.String(), Type.Null()]),
    progress: Type.Object({ to_send: Type.Integer(), sent: Type.Integer(), failed: Type.Integer() }),
    created_at: Timestamp,
    updated_at: Timestamp,
    warnings: Type.Optional(
      Type.Array(CampaignWarningSchema, {
        description:
          'What to know before the campaign sends; none stops it. In the answers of GET /v1/campaigns/{id}, create, change, send, schedule and the other actions (not in the list). Empty once the campaign is sent or cancelled.',
      }),
    ),
  },
  { title: 'Campaign' },
);

export const CampaignListQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(CampaignStatusSchema) },
  { additionalProperties: false },
);

export const AudienceSchema = Type.Object(
  {
    total: Type.Integer({ description: 'Recipients if the campaign were sent now.' }),
    data: Type.Array(Type.Object({ id: Uuid, email: Type.String() })),
    next_cursor: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'CampaignAudience' },
);
