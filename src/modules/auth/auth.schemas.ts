import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from '../../http/schemas.js';
import { ALL_SCOPES } from './scopes.js';

export const ScopeSchema = Type.Union(
  ALL_SCOPES.map((s) => Type.Literal(s)),
  { description: ALL_SCOPES.join(', ') },
);

export const ApiKeySchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    prefix: Type.String({ description: 'First characters of the secret, to tell keys apart.' }),
    scopes: Type.Array(Type.String()),
    created_at: Timestamp,
    last_used_at: NullableTimestamp,
    revoked_at: NullableTimestamp,
  },
  { title: 'ApiKey' },
);

export const CreatedApiKeySchema = Type.Object(
  {
    ...ApiKeySchema.properties,
    secret: Type.String({ description: 'The key itself. Shown only in this response: store it now.' }),
  },
  { title: 'CreatedApiKey' },
);

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    scopes: Type.Array(ScopeSchema, { minItems: 1, uniqueItems: true }),
  },
  { additionalProperties: false },
);

const Cap = (span: string) =>
  Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
    description: `Most marketing emails one contact gets in any ${span} (campaigns and automations together; transactional email is exempt). null: no cap.`,
  });

const QuietHours = Type.Union(
  [
    Type.Object(
      {
        start: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', examples: ['21:00'] }),
        end: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', examples: ['08:00'] }),
      },
      { additionalProperties: false },
    ),
    Type.Null(),
  ],
  {
    description:
      "Local times in the contact's time zone (the workspace's for contacts without one) between which no marketing email is sent: automation emails and campaign recipients wait until the end. A start after the end spans midnight. null: none.",
  },
);

export const SendingPolicySchema = Type.Object(
  {
    frequency_caps: Type.Object({ per_day: Cap('24 hours'), per_week: Cap('7 days') }),
    quiet_hours: QuietHours,
  },
  { title: 'SendingPolicy' },
);

const RoleAccountsMode = Type.Union([Type.Literal('warn'), Type.Literal('off')], {
  description: 'Role addresses (info@, admin@, noreply@, ...): warn (stored, with a warning) or off.',
});
const TyposMode = Type.Union([Type.Literal('warn'), Type.Literal('off')], {
  description:
    'Likely domain typos (gmial.com, gmail.con): warn (stored, with a suggestion) or off. The hosted form always asks once.',
});
const DisposableMode = Type.Union([Type.Literal('reject'), Type.Literal('warn'), Type.Literal('off')], {
  description: 'Disposable providers (mailinator.com, yopmail.com, ...): reject (default), warn or off.',
});

const MxCheck = Type.Boolean({
  description:
    'Look up each new domain in DNS (HERALD_DNS_SERVERS) and refuse one without MX or address records. Default false.',
});

export const HygienePolicySchema = Type.Object(
  { role_accounts: RoleAccountsMode, typos: TyposMode, disposable: DisposableMode, mx_check: MxCheck },
  { title: 'HygienePolicy', description: 'What is checked when a contact email is written.' },
);

const PostalAddress = Type.String({
  maxLength: 500,
  description:
    'CAN-SPAM physical postal address (several lines allowed, at most 500 characters, no Liquid delimiters). Every marketing email (campaigns, automation emails of kind marketing; not transactional messages) carries it: templates show it with {{ workspace.postal_address }}, and a template that does not gets a small footer with it appended to its HTML and text parts. Not set: nothing is appended.',
});
const RequirePostalAddress = Type.Boolean({
  description:
    'Refuse to send or schedule a campaign (409 POSTAL_ADDRESS_REQUIRED) while postal_address is not set; test sends are allowed. Default false.',
});

export const WorkspaceSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    created_at: Timestamp,
    timezone: Type.String({
      description: 'IANA time zone of automation schedules and of contacts that have none.',
    }),
    sending_policy: SendingPolicySchema,
    hygiene: HygienePolicySchema,
    postal_address: Type.Union([PostalAddress, Type.Null()]),
    require_postal_address: RequirePostalAddress,
  },
  { title: 'Workspace' },
);

export const UpdateWorkspaceBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    timezone: Type.Optional(Type.String({ description: 'IANA time zone, e.g. Europe/Berlin.' })),
    sending_policy: Type.Optional(
      Type.Object(
        {
          frequency_caps: Type.Optional(
            Type.Object(
              { per_day: Type.Optional(Cap('24 hours')), per_week: Type.Optional(Cap('7 days')) },
              { additionalProperties: false },
            ),
          ),
          quiet_hours: Type.Optional(QuietHours),
        },
        { additionalProperties: false },
      ),
    ),
    hygiene: Type.Optional(
      Type.Object(
        {
          role_accounts: Type.Optional(RoleAccountsMode),
          typos: Type.Optional(TyposMode),
          disposable: Type.Optional(DisposableMode),
          mx_check: Type.Optional(MxCheck),
        },
        { additionalProperties: false },
      ),
    ),
    postal_address: Type.Optional(
      Type.Union([PostalAddress, Type.Null()], {
        description: 'The postal address; null or an empty string removes it.',
      }),
    ),
    require_postal_address: Type.Optional(RequirePostalAddress),
  },
  { additionalProperties: false },
);
