import { Type } from 'typebox';
import { PageQuery, Timestamp } from '../../http/schemas.js';

const Uuid = Type.String({ format: 'uuid' });
const NullableUuid = Type.Union([Uuid, Type.Null()]);
const Limit = (what: string) =>
  Type.Union([Type.Integer({ minimum: 1, maximum: 100_000_000 }), Type.Null()], {
    description: `Most messages per ${what} to the rule's domains together; null: no limit per ${what}.`,
  });
const LocalDate = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}$',
  description: "A date (YYYY-MM-DD) in the workspace's time zone.",
});

export const ProviderSchema = Type.Union(
  [Type.Literal('gmail'), Type.Literal('outlook'), Type.Literal('yahoo'), Type.Literal('apple')],
  {
    description:
      'A mailbox provider group: gmail (gmail.com, googlemail.com), outlook (outlook.*, hotmail.*, live.*, msn.com), yahoo (yahoo.*, ymail.com, aol.com), apple (icloud.com, me.com, mac.com).',
  },
);

export const ThrottleRuleBody = Type.Object(
  {
    name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Default: the providers and domains.' }),
    ),
    domains: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
        maxItems: 500,
        description: 'Recipient domains, matched exactly (yahoo.com does not cover yahoo.co.uk).',
      }),
    ),
    providers: Type.Optional(Type.Array(ProviderSchema, { maxItems: 4 })),
    transport_id: Type.Optional(
      Type.Union([Uuid, Type.Null()], {
        description:
          'Only mail sent through this transport (a campaign or message without one uses the default); null: any transport.',
      }),
    ),
    per_minute: Type.Optional(Limit('clock minute (UTC)')),
    per_hour: Type.Optional(Limit('clock hour (UTC)')),
    per_day: Type.Optional(Limit("day in the workspace's time zone")),
  },
  { additionalProperties: false },
);

const WindowUsageSchema = Type.Union([
  Type.Object({
    limit: Type.Integer(),
    used: Type.Integer({ description: 'Messages counted in the current window (transactional ones too).' }),
    window_start: Timestamp,
    resets_at: Timestamp,
  }),
  Type.Null(),
]);

export const ThrottleRuleSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    domains: Type.Array(Type.String()),
    providers: Type.Array(ProviderSchema),
    transport_id: NullableUuid,
    per_minute: Type.Union([Type.Integer(), Type.Null()]),
    per_hour: Type.Union([Type.Integer(), Type.Null()]),
    per_day: Type.Union([Type.Integer(), Type.Null()]),
    usage: Type.Object({
      per_minute: WindowUsageSchema,
      per_hour: WindowUsageSchema,
      per_day: WindowUsageSchema,
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'ThrottleRule' },
);

export const ListQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });

const GrowthSchema = Type.Object(
  {
    start_volume: Type.Integer({
      minimum: 1,
      maximum: 100_000_000,
      description: "The first generated day's cap.",
    }),
    factor: Type.Number({
      exclusiveMinimum: 1,
      maximum: 10,
      description: "Each day's cap is the previous day's times this (1.5: half as much again).",
    }),
    target: Type.Integer({
      minimum: 1,
      maximum: 100_000_000,
      description: 'The last capped day: the first day that reaches it. No cap after it.',
    }),
  },
  { additionalProperties: false },
);

const ScheduleCaps = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  start_date: Type.String({
    ...LocalDate,
    description: "Day 1, a date in the workspace's time zone, today or later (default: today).",
  }),
  daily_caps: Type.Array(Type.Integer({ minimum: 1, maximum: 100_000_000 }), {
    minItems: 1,
    maxItems: 366,
    description: 'The cap of each day from start_date on.',
  }),
  growth: Type.Union([GrowthSchema, Type.Null()], {
    description:
      'Caps generated for the days after daily_caps (or from day 1 without them); null removes them.',
  }),
};

export const WarmupScheduleCreateBody = Type.Object(
  {
    name: Type.Optional(ScheduleCaps.name),
    sending_domain_id: Type.Optional(
      Type.String({
        format: 'uuid',
        description: 'Cap the mail whose From domain this sending domain signs.',
      }),
    ),
    transport_id: Type.Optional(
      Type.String({
        format: 'uuid',
        description: 'Cap the mail sent through this transport (or one of the two).',
      }),
    ),
    start_date: Type.Optional(ScheduleCaps.start_date),
    daily_caps: Type.Optional(ScheduleCaps.daily_caps),
    growth: Type.Optional(ScheduleCaps.growth),
  },
  { additionalProperties: false },
);

export const WarmupSchedulePatchBody = Type.Object(
  {
    name: Type.Optional(ScheduleCaps.name),
    start_date: Type.Optional(ScheduleCaps.start_date),
    daily_caps: Type.Optional(ScheduleCaps.daily_caps),
    growth: Type.Optional(ScheduleCaps.growth),
  },
  { additionalProperties: false },
);

export const WarmupScheduleSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    sending_domain_id: NullableUuid,
    transport_id: NullableUuid,
    start_date: Type.String(),
    daily_caps: Type.Array(Type.Integer()),
    growth: Type.Union([
      Type.Object({ start_volume: Type.Integer(), factor: Type.Number(), target: Type.Integer() }),
      Type.Null(),
    ]),
    caps: Type.Array(Type.Integer(), {
      description: 'The whole schedule: the cap of each day from start_date on.',
    }),
    status: Type.Object(
      {
        state: Type.Union([Type.Literal('scheduled'), Type.Literal('warming'), Type.Literal('finished')]),
        day: Type.Union([Type.Integer(), Type.Null()], {
          description: "Today's day number (1 = start_date) while warming.",
        }),
        days: Type.Integer({ description: 'Capped days in all.' }),
        today: Type.String({ description: "Today's date in the workspace's time zone." }),
        today_cap: Type.Union([Type.Integer(), Type.Null()], { description: 'null: no cap today.' }),
        used_today: Type.Integer({ description: 'Messages counted today (transactional ones too).' }),
        remaining_today: Type.Union([Type.Integer(), Type.Null()]),
        day_ends_at: Timestamp,
        ends_on: Type.String({ description: 'The first date without a cap.' }),
        ends_at: Timestamp,
      },
      { description: 'Where the schedule stands now.' },
    ),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'WarmupSchedule' },
);
