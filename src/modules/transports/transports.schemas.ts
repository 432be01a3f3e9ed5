import { Type } from 'typebox';
import { PageQuery, Timestamp } from '../../http/schemas.js';

export const TransportTypeSchema = Type.Union(
  [
    Type.Literal('smtp'),
    Type.Literal('ses'),
    Type.Literal('mailgun'),
    Type.Literal('sendgrid'),
    Type.Literal('postmark'),
    Type.Literal('file'),
  ],
  {
    description:
      'smtp, ses (Amazon SES v2), mailgun, sendgrid, postmark, or file (.eml files in the data folder).',
  },
);

const Name = Type.String({
  minLength: 1,
  maxLength: 200,
  description: 'Unique per workspace, regardless of case.',
});
const Positive = Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000_000 }), Type.Null()]);

const RateLimit = Type.Object(
  {
    per_second: Type.Optional(Positive),
    per_hour: Type.Optional(Positive),
    per_day: Type.Optional(Positive),
  },
  {
    additionalProperties: false,
    description: 'Messages per second/hour/day, per process; null means no limit.',
  },
);

const Settings = Type.Record(Type.String(), Type.Unknown(), {
  description:
    'Non-secret settings, checked per type. smtp: host (required), port, tls (starttls default | implicit | none), user, max_connections, max_messages, tls_reject_unauthorized, timeout_ms. ses: region, access_key_id (required), endpoint, configuration_set. mailgun: domain (required), base_url. sendgrid: base_url. postmark: message_stream, base_url. file: subfolder.',
});

export const TransportSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    type: TransportTypeSchema,
    settings: Settings,
    secrets_set: Type.Array(Type.String(), {
      description: 'Names of the stored credentials; their values are never returned.',
    }),
    rate_limit: Type.Object({ per_second: Positive, per_hour: Positive, per_day: Positive }),
    max_concurrency: Type.Integer(),
    is_default: Type.Boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'Transport', additionalProperties: false },
);

export const TransportCreateBody = Type.Object(
  {
    name: Name,
    type: TransportTypeSchema,
    settings: Type.Optional(Settings),
    secrets: Type.Optional(
      Type.Record(Type.String(), Type.String({ minLength: 1, maxLength: 4096 }), {
        description:
          'Credentials, stored encrypted: smtp password, ses secret_access_key, mailgun/sendgrid api_key, postmark server_token.',
      }),
    ),
    rate_limit: Type.Optional(RateLimit),
    max_concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    is_default: Type.Optional(
      Type.Boolean({ description: 'Defaults to true for the first transport of a workspace.' }),
    ),
  },
  { additionalProperties: false },
);

export const TransportPatchBody = Type.Object(
  {
    name: Type.Optional(Name),
    settings: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'Merged; null removes a key.' }),
    ),
    secrets: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String({ minLength: 1, maxLength: 4096 }), Type.Null()]), {
        description: 'Merged; null removes a secret.',
      }),
    ),
    rate_limit: Type.Optional(RateLimit),
    max_concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    is_default: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const TransportListQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });

export const TransportTestBody = Type.Object(
  {
    to: Type.String({ format: 'email', maxLength: 320 }),
    from: Type.String({ format: 'email', maxLength: 320 }),
  },
  { additionalProperties: false },
);

export const TransportTestResult = Type.Object(
  {
    delivered: Type.Boolean(),
    message_id: Type.String(),
    provider_message_id: Type.Optional(Type.String()),
    error: Type.Optional(
      Type.Object(
        {
          kind: Type.Union([
            Type.Literal('permanent'),
            Type.Literal('temporary'),
            Type.Literal('connection'),
          ]),
          code: Type.Union([Type.String(), Type.Null()]),
          message: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
