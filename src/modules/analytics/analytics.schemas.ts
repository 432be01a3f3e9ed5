import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from '../../http/schemas.js';

const Uuid = Type.String({ format: 'uuid' });
const NullableUuid = Type.Union([Uuid, Type.Null()]);
const Ratio = Type.Union([Type.Number(), Type.Null()]);

export const ConversionCreateBody = Type.Object(
  {
    click_id: Type.Optional(
      Type.String({
        format: 'uuid',
        description:
          'The `hid` parameter Herald appends to tracked links. Attributes the conversion to that click when it ' +
          'lies within the attribution window before occurred_at; 404 CLICK_NOT_FOUND when it is not a click of ' +
          'this workspace.',
      }),
    ),
    contact: Type.Optional(
      Type.Object(
        {
          id: Type.Optional(Type.String({ format: 'uuid' })),
          email: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
          external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
        },
        {
          additionalProperties: false,
          description:
            'Who converted: exactly one of id, email, external_id. An unknown id is 404; an unknown email or ' +
            'external_id records the conversion without a contact.',
        },
      ),
    ),
    revenue: Type.Optional(
      Type.Union([Type.String({ maxLength: 40 }), Type.Number()], {
        description:
          'A decimal, as a string ("19.99", recommended) or a JSON number; at most 6 decimals; negative for ' +
          'refunds. Stored exactly (numeric), never as a float. Requires currency.',
      }),
    ),
    currency: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z]{3}$',
        description: 'ISO 4217 code (EUR, USD, ...); required with revenue.',
      }),
    ),
    event: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'What happened, e.g. "purchase" or "signup".',
      }),
    ),
    occurred_at: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'When it happened; default now. At most 5 minutes ahead.',
      }),
    ),
    idempotency_key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'A retried request with the same key and data returns the first conversion (200) and counts once; the ' +
          'same key with other data is 409 IDEMPOTENCY_KEY_REUSED. Use your order id.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ConversionSchema = Type.Object(
  {
    id: Uuid,
    contact_id: NullableUuid,
    campaign_id: Type.Union([Uuid, Type.Null()], {
      description: 'The campaign it is attributed to; null if none.',
    }),
    click_id: Type.Union([Uuid, Type.Null()], { description: 'The click it is attributed to.' }),
    link_id: NullableUuid,
    attribution: Type.Union([Type.Literal('click_id'), Type.Literal('last_click'), Type.Literal('none')], {
      description:
        "click_id: the click named in the request; last_click: the contact's last human click in the window; " +
        'none: unattributed.',
    }),
    event: Type.Union([Type.String(), Type.Null()]),
    revenue: Type.Union([Type.String(), Type.Null()], {
      description: 'Decimal string with the currency minor digits, e.g. "19.90".',
    }),
    currency: Type.Union([Type.String(), Type.Null()]),
    idempotency_key: Type.Union([Type.String(), Type.Null()]),
    occurred_at: Timestamp,
    created_at: Timestamp,
  },
  { title: 'Conversion' },
);

const Counts = Type.Object({
  total: Type.Integer({ description: 'Every hit, people and machines.' }),
  unique: Type.Integer({ description: 'Contacts with at least one hit.' }),
  human: Type.Integer({ description: 'Hits classified human or proxy.' }),
  human_unique: Type.Integer({ description: 'Contacts with at least one human or proxy hit.' }),
});

const Revenue = Type.Array(
  Type.Object({
    currency: Type.String(),
    amount: Type.String({ description: 'Exact decimal sum.' }),
    conversions: Type.Integer(),
  }),
);

export const CampaignReportSchema = Type.Object(
  {
    campaign_id: Uuid,
    name: Type.String(),
    status: Type.String(),
    started_at: NullableTimestamp,
    finished_at: NullableTimestamp,
    events_counted_until: Type.Union([Timestamp, Type.Null()], {
      description: 'Hits recorded before this instant are counted (the rollup lags by a few seconds).',
    }),
    to_send: Type.Integer(),
    sent: Type.Integer({ description: 'Messages the transport accepted (live).' }),
    failed: Type.Integer({ description: 'Recipients whose send failed for good (live).' }),
    delivered: Type.Union([Type.Integer(), Type.Null()], {
      description: 'null: unknown until delivery events (asynchronous bounces) are processed.',
    }),
    bounced: Type.Object(
      {
        hard: Type.Integer({ description: 'Sends refused permanently (5xx) by the receiving server.' }),
        soft: Type.Integer({ description: 'Temporary refusals that ran out of attempts.' }),
      },
      { description: 'From the send ledger; asynchronous bounces are not counted yet.' },
    ),
    complaints: Type.Integer({ description: '0 until feedback loops are processed.' }),
    opens: Counts,
    clicks: Counts,
    rates: Type.Object(
      {
        open_rate: Type.Union([Type.Number(), Type.Null()], {
          description: 'opens.human_unique / sent (delivered once known); null when nothing was sent.',
        }),
        click_rate: Type.Union([Type.Number(), Type.Null()], { description: 'clicks.human_unique / sent.' }),
        click_to_open_rate: Type.Union([Type.Number(), Type.Null()], {
          description: 'clicks.human_unique / opens.human_unique.',
        }),
      },
      { description: 'Ratios between 0 and 1, rounded to 6 decimals.' },
    ),
    unsubscribes: Type.Integer({
      description: "Distinct contacts who unsubscribed through this campaign's links.",
    }),
    conversions: Type.Object({
      count: Type.Integer({ description: 'Conversions attributed to this campaign.' }),
      revenue: Revenue,
    }),
    links: Type.Array(
      Type.Object({
        link_id: Uuid,
        url: Type.Union([Type.String(), Type.Null()]),
        clicks: Type.Integer(),
        unique: Type.Integer(),
        human: Type.Integer(),
        human_unique: Type.Integer(),
      }),
      { description: 'Per tracked link, in the order of the template.' },
    ),
    providers: Type.Array(
      Type.Object({
        provider: Type.String({
          description: 'gmail, outlook, yahoo, apple or other (by the address domain).',
        }),
        sent: Type.Integer(),
        failed: Type.Integer(),
        unique_opens: Type.Integer(),
        human_unique_opens: Type.Integer(),
        unique_clicks: Type.Integer(),
        human_unique_clicks: Type.Integer(),
      }),
      { description: 'Sent and failed here follow the ledger and may trail the live totals while sending.' },
    ),
    series: Type.Array(
      Type.Object({
        hour: Timestamp,
        opens: Type.Integer(),
        human_opens: Type.Integer(),
        unique_opens: Type.Integer({ description: 'Contacts whose first open fell in this hour.' }),
        human_unique_opens: Type.Integer(),
        clicks: Type.Integer(),
        human_clicks: Type.Integer(),
        unique_clicks: Type.Integer(),
        human_unique_clicks: Type.Integer(),
      }),
      {
        description:
          'Hourly (UTC) from the hour sending started to the last hour with hits, at most 92 days.',
      },
    ),
  },
  { title: 'CampaignReport' },
);

export const OverviewQuery = Type.Object(
  {
    from: Type.Optional(
      Type.String({ format: 'date-time', description: 'Start (inclusive); default to - 30 days.' }),
    ),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'End (exclusive); default now.' })),
  },
  { additionalProperties: false },
);

export const OverviewSchema = Type.Object(
  {
    from: Timestamp,
    to: Timestamp,
    campaigns_started: Type.Integer(),
    sent: Type.Integer({ description: 'Sent by the campaigns started in the range.' }),
    failed: Type.Integer(),
    opens: Counts,
    clicks: Counts,
    unsubscribes: Type.Integer({ description: 'Distinct contacts who unsubscribed in the range (any way).' }),
    conversions: Type.Object({
      count: Type.Integer(),
      attributed: Type.Integer({ description: 'Of those, attributed to a campaign.' }),
      revenue: Revenue,
    }),
    campaigns: Type.Array(
      Type.Object({
        id: Uuid,
        name: Type.String(),
        status: Type.String(),
        started_at: NullableTimestamp,
        sent: Type.Integer(),
        failed: Type.Integer(),
        human_unique_opens: Type.Integer(),
        human_unique_clicks: Type.Integer(),
        open_rate: Ratio,
        click_rate: Ratio,
      }),
      { description: 'The latest 100 campaigns started in the range.' },
    ),
  },
  { title: 'AnalyticsOverview' },
);
