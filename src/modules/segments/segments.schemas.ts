import { Type } from 'typebox';
import { PageQuery, Timestamp } from '../../http/schemas.js';

const Uuid = Type.String({ format: 'uuid' });

/**
 * The definition is checked by the segments service, not by the request
 * schema: its errors then name the failing node by JSON pointer
 * (/definition/all/2/operator) with what to change, instead of the schema
 * validator's list of every alternative that did not match.
 */
export const SegmentDefinitionSchema = Type.Unsafe<unknown>({
  description:
    'A condition: {"all": [...]}, {"any": [...]}, {"not": ...}, {"attribute": name or path, "operator", "value"}, ' +
    '{"field": "email" | "domain" | "status" | "timezone" | "locale" | "external_id" | "created_at" | "tags", "operator", "value"}, ' +
    '{"list": id, "status": [...]}, {"event": name, "count", "window", "where": [...]}, ' +
    '{"engagement": "received" | "opened" | "clicked" | "bounced" | "never_opened", "campaign", "window", "human_only"}, ' +
    '{"engagement": "at_risk"}, {"score": "engagement" | "open_probability" | "click_probability", "operator", "value"}, ' +
    '{"conversion": {"count", "revenue", "currency", "window", "event"}}, {"segment": id} or {"sample": {"percent", "seed"}}. ' +
    'See the README section "Segment language" for every operator.',
  examples: [
    {
      all: [
        { attribute: 'plan', operator: 'equals', value: 'pro' },
        {
          event: 'Order Completed',
          count: { operator: 'at_least', value: 3 },
          window: { within_last_days: 30 },
        },
        { not: { engagement: 'opened', window: { within_last_days: 90 } } },
      ],
    },
  ],
});

const segmentFields = {
  name: Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'Unique per workspace (case-insensitive).',
  }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
  definition: SegmentDefinitionSchema,
};

export const SegmentCreateBody = Type.Object(segmentFields, { additionalProperties: false });

export const SegmentPatchBody = Type.Object(
  {
    name: Type.Optional(segmentFields.name),
    description: segmentFields.description,
    definition: Type.Optional(SegmentDefinitionSchema),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const SegmentSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    definition: Type.Unsafe<unknown>({ type: 'object', additionalProperties: true }),
    recorded_members: Type.Object(
      {
        count: Type.Integer(),
        checked_at: Type.Union([Timestamp, Type.Null()]),
      },
      {
        description:
          'Members as of the last membership check (entered/exited events); the segment itself is always evaluated live: use /count.',
      },
    ),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'Segment' },
);

export const SegmentContactSchema = Type.Object(
  {
    id: Uuid,
    email: Type.String(),
    external_id: Type.Union([Type.String(), Type.Null()]),
    status: Type.String(),
    created_at: Timestamp,
  },
  { title: 'SegmentContact' },
);

export const SegmentCountSchema = Type.Object(
  { count: Type.Integer(), evaluated_at: Timestamp },
  { title: 'SegmentCount' },
);

export const EvaluateBody = Type.Object(
  {
    definition: SegmentDefinitionSchema,
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, default: 20, description: 'Contacts to return.' }),
    ),
  },
  { additionalProperties: false },
);

export const EvaluateSchema = Type.Object(
  { count: Type.Integer(), data: Type.Array(SegmentContactSchema), evaluated_at: Timestamp },
  { title: 'SegmentEvaluation' },
);

const Explained = Type.Object({
  sql: Type.String(),
  parameters: Type.Array(Type.Unknown()),
  plan: Type.Array(Type.String()),
});

export const ExplainSchema = Type.Object(
  {
    count: Explained,
    probe: Type.Object(Explained.properties, {
      description: 'The per-contact shape campaign claims embed, as a first-100 query.',
    }),
  },
  { title: 'SegmentExplain' },
);

export const ExplainQuery = Type.Object(
  {
    analyze: Type.Optional(
      Type.Boolean({
        default: false,
        description: 'Run the queries (EXPLAIN ANALYZE, BUFFERS) for real timings.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const SegmentListQuery = Type.Object(PageQuery, { additionalProperties: false });
