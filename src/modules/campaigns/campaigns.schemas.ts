import { Type } from 'typebox';
import { NullableTimestamp, PageQuery, Timestamp } from '../../http/schemas.js';

export const CampaignStatusSchema = Type.Union(
  [
    Type.Literal('draft'),
    Type.Literal('scheduled'),
    Type.Literal('sending'),
    Type.Literal('paused'),
    Type.Literal('sent'),
    Type.Literal('cancelled'),
  ],
  { description: 'draft, scheduled, sending, paused, sent or cancelled' },
);

const Uuid = Type.String({ format: 'uuid' });
const NullableText = (maxLength: number, description?: string) =>
  Type.Union([Type.String({ maxLength }), Type.Null()], description ? { description } : {});

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
        'Guardrail: sending pauses itself when hard bounces / recipients sent so far pass this share, after guardrail_min_sent recipients (default 0.05: ESPs commonly suspend senders at 5-10%).',
    }),
  ),
  complaint_threshold: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      description:
        'Guardrail: sending pauses itself when spam complaints / recipients sent so far pass this share, after guardrail_min_sent recipients (default 0.003, the Gmail/Yahoo bulk-sender limit; aim under 0.001).',
    }),
  ),
  guardrail_min_sent: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 100_000_000,
      description:
        'Recipients sent before the bounce and complaint guardrails judge the rates (default 500: on a smaller sample one complaint would already pause).',
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
};

export const CampaignCreateBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200 }), ...settings },
  { additionalProperties: false },
);

export const CampaignPatchBody = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), ...settings },
  { additionalProperties: false, minProperties: 1 },
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
    scheduled_at: NullableTimestamp,
    started_at: NullableTimestamp,
    finished_at: NullableTimestamp,
    status_reason: Type.Union([Type.String(), Type.Null()]),
    progress: Type.Object({ to_send: Type.Integer(), sent: Type.Integer(), failed: Type.Integer() }),
    created_at: Timestamp,
    updated_at: Timestamp,
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
