import { Type } from 'typebox';
import { NullableTimestamp, PageQuery, Timestamp } from '../../http/schemas.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const SuppressionReasonSchema = Type.Union(
  [
    Type.Literal('hard_bounce'),
    Type.Literal('soft_bounce'),
    Type.Literal('complaint'),
    Type.Literal('manual'),
    Type.Literal('sunset'),
  ],
  {
    description:
      'hard_bounce, soft_bounce (N soft bounces within M days), complaint, manual, or sunset (no engagement for N days, see the sunset policy).',
  },
);

/** What a stored entry may say: also 'erased', which only an erasure (privacy module) writes. */
export const StoredSuppressionReasonSchema = Type.Union(
  [...SuppressionReasonSchema.anyOf, Type.Literal('erased')],
  {
    description:
      'hard_bounce, soft_bounce, complaint, manual, sunset, or erased (the person was erased: email holds erased:<HMAC of the address>, never the address).',
  },
);

export const SuppressionSchema = Type.Object({
  email: Type.String(),
  reason: StoredSuppressionReasonSchema,
  source: Type.String({
    description: 'What added it: smtp, http, ses, sendgrid, mailgun, postmark, api, import, or sunset.',
  }),
  bounce_event_id: Nullable(Type.String({ format: 'uuid' })),
  note: Nullable(Type.String()),
  created_at: Timestamp,
});

export const SuppressionListQuery = Type.Object(
  {
    ...PageQuery,
    reason: Type.Optional(StoredSuppressionReasonSchema),
    email: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 320,
        description: 'Addresses starting with this text (any case).',
      }),
    ),
  },
  { additionalProperties: false },
);

export const SuppressionCreate = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 320 }),
    reason: Type.Optional(SuppressionReasonSchema),
    note: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

export const SuppressionEmailParams = Type.Object(
  { email: Type.String({ minLength: 3, maxLength: 320 }) },
  { additionalProperties: false },
);

export const SuppressionDeleteQuery = Type.Object(
  {
    reason: Type.String({
      minLength: 1,
      maxLength: 1000,
      description: 'Why the address may be sent to again (recorded with the removal).',
    }),
  },
  { additionalProperties: false },
);

const AppliedSchema = Type.Object({
  event_id: Nullable(Type.String({ format: 'uuid' })),
  duplicate: Type.Boolean({ description: 'The same report was applied before: nothing changed.' }),
  type: Type.String({ description: 'bounce, complaint, delivery or delay.' }),
  severity: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  matched_by: Type.String({
    description:
      'verp (signed return path), message_id (Original Message-ID), recipient (address in the workspace) or none.',
  }),
  contact_id: Nullable(Type.String({ format: 'uuid' })),
  campaign_id: Nullable(Type.String({ format: 'uuid' })),
  message_ref: Nullable(Type.String({ format: 'uuid' })),
  effects: Type.Array(Type.String(), { description: 'contact_bounced, contact_complained, suppressed.' }),
});

export const UnsubscribeMailSchema = Type.Object({
  outcome: Type.Union(
    [Type.Literal('unsubscribed'), Type.Literal('already_unsubscribed'), Type.Literal('ignored')],
    {
      description:
        'ignored: no valid token of a message of this workspace (tampered, retired key, another workspace, erased contact); nothing changed.',
    },
  ),
  scope: Type.Union([Type.Literal('lists'), Type.Literal('all'), Type.Null()], {
    description: "lists: the campaign's lists were left; all: all marketing email (automation emails).",
  }),
  contact_id: Nullable(Type.String()),
  campaign_id: Nullable(Type.String()),
  message_ref: Nullable(Type.String({ description: 'messages.id of an automation email.' })),
});

export const RawIntakeResult = Type.Object({
  kind: Type.String({
    description:
      'bounce, delay, complaint, auto_reply, unknown, or unsubscribe (mail to a List-Unsubscribe mailto address).',
  }),
  format: Type.String({ description: 'dsn, arf, text, auto_reply, none, or mailto.' }),
  results: Type.Array(AppliedSchema),
  unsubscribe: Type.Optional(UnsubscribeMailSchema),
});

export const WebhookResult = Type.Object({
  outcome: Type.String({ description: 'applied, replay_ignored, subscription_confirmed or ignored.' }),
  results: Type.Array(AppliedSchema),
});

export const BounceEventSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  contact_id: Nullable(Type.String()),
  campaign_id: Nullable(Type.String()),
  message_ref: Nullable(Type.String()),
  message_id: Nullable(Type.String()),
  recipient: Type.String(),
  type: Type.String(),
  severity: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  status_code: Nullable(Type.String()),
  reply_code: Type.Union([Type.Integer(), Type.Null()]),
  diagnostic: Nullable(Type.String()),
  remote_mta: Nullable(Type.String()),
  source: Type.String(),
  matched_by: Type.String(),
  effect: Type.String(),
  occurred_at: NullableTimestamp,
  received_at: Timestamp,
});

export const BounceEventListQuery = Type.Object(
  { ...PageQuery, contact_id: Type.Optional(Type.String({ format: 'uuid' })) },
  { additionalProperties: false },
);

const ImapTlsSchema = Type.Union([Type.Literal('tls'), Type.Literal('starttls'), Type.Literal('none')], {
  description: 'tls (implicit TLS, default), starttls, or none (plain text: only for a server on loopback).',
});
const Folder = (description: string) =>
  Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\r\\n\\x00*%]+$', description });

export const SettingsSchema = Type.Object({
  soft_bounce_threshold: Type.Integer(),
  soft_bounce_window_days: Type.Integer(),
  hard_bounce_threshold: Type.Number({
    description: "What a new campaign takes when it sets no hard_bounce_threshold (Herald's default: 0.05).",
  }),
  complaint_threshold: Type.Number({
    description: "What a new campaign takes when it sets no complaint_threshold (Herald's default: 0.003).",
  }),
  guardrail_min_sent: Type.Integer({
    description: "What a new campaign takes when it sets no guardrail_min_sent (Herald's default: 500).",
  }),
  ses_topic_arns: Type.Array(Type.String()),
  sendgrid_public_key: Nullable(Type.String()),
  mailgun_signing_key_set: Type.Boolean(),
  postmark_username: Nullable(Type.String()),
  postmark_password_set: Type.Boolean(),
  imap_enabled: Type.Boolean({ description: 'Whether the bounce mailbox is read over IMAP.' }),
  imap_host: Nullable(Type.String()),
  imap_port: Type.Union([Type.Integer(), Type.Null()], { description: 'null: 993 for tls, 143 otherwise.' }),
  imap_tls: ImapTlsSchema,
  imap_user: Nullable(Type.String()),
  imap_password_set: Type.Boolean(),
  imap_mailbox: Type.String(),
  imap_processed_folder: Type.String(),
  imap_unparsed_folder: Type.String(),
});

export const SettingsPatchSchema = Type.Object(
  {
    soft_bounce_threshold: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description: 'Soft bounces that suppress an address (default 3)...',
      }),
    ),
    soft_bounce_window_days: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 365, description: '...within this many days (default 7).' }),
    ),
    hard_bounce_threshold: Type.Optional(
      Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 1 }), Type.Null()], {
        description:
          "Guardrail default for new campaigns that set none: sending pauses itself when hard bounces / recipients sent pass this share. null: Herald's (0.05). Existing campaigns keep theirs.",
      }),
    ),
    complaint_threshold: Type.Optional(
      Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 1 }), Type.Null()], {
        description:
          "Guardrail default for new campaigns that set none: sending pauses itself when complaints / recipients sent pass this share. null: Herald's (0.003, the Gmail/Yahoo bulk-sender limit).",
      }),
    ),
    guardrail_min_sent: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 100_000_000 }), Type.Null()], {
        description:
          "Guardrail default for new campaigns that set none: recipients sent before the rates are judged. null: Herald's (500).",
      }),
    ),
    ses_topic_arns: Type.Optional(
      Type.Array(Type.String({ pattern: '^arn:[^:]+:sns:[^:]*:[^:]*:.+$' }), {
        maxItems: 20,
        description: 'SNS topics whose messages /webhooks/ses/{workspace} accepts.',
      }),
    ),
    sendgrid_public_key: Type.Optional(
      Nullable(
        Type.String({ minLength: 40, maxLength: 2000, description: 'Event Webhook verification key.' }),
      ),
    ),
    mailgun_signing_key: Type.Optional(
      Nullable(
        Type.String({
          minLength: 8,
          maxLength: 200,
          description: 'HTTP webhook signing key (stored encrypted).',
        }),
      ),
    ),
    postmark_username: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200 }))),
    postmark_password: Type.Optional(
      Nullable(Type.String({ minLength: 8, maxLength: 200, description: 'Stored encrypted.' })),
    ),
    imap_enabled: Type.Optional(
      Type.Boolean({
        description:
          'Read bounce and complaint reports from this mailbox every HERALD_IMAP_POLL_INTERVAL_MS (needs host, user, password).',
      }),
    ),
    imap_host: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 255 }))),
    imap_port: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 65535 }), Type.Null()])),
    imap_tls: Type.Optional(ImapTlsSchema),
    imap_user: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 320 }))),
    imap_password: Type.Optional(
      Nullable(
        Type.String({ minLength: 1, maxLength: 500, description: 'Stored encrypted, never returned.' }),
      ),
    ),
    imap_mailbox: Type.Optional(Folder('The folder reports arrive in (default INBOX).')),
    imap_processed_folder: Type.Optional(
      Folder('Where read reports are moved (default Herald/Processed; created when missing).'),
    ),
    imap_unparsed_folder: Type.Optional(
      Folder('Where messages that are no report are moved (default Herald/Unparsed); nothing is deleted.'),
    ),
  },
  { additionalProperties: false },
);

export const ImapPollResult = Type.Object({
  mailboxes: Type.Integer({ description: 'Mailboxes read (enabled ones).' }),
  failed: Type.Integer({
    description: 'Mailboxes that could not be read (connection, login, folder): retried next poll.',
  }),
  messages: Type.Integer({ description: 'Messages fetched.' }),
  processed: Type.Integer({ description: 'Reports applied and moved to the processed folder.' }),
  unparsed: Type.Integer({
    description: 'Messages moved to the unparsed folder (no report, auto-reply, unreadable).',
  }),
  unsubscribes: Type.Integer({
    description:
      'Mail to List-Unsubscribe mailto addresses acted on (unsubscribed, or already so) and moved to the processed folder; one with a token that is not valid here goes to the unparsed folder.',
  }),
  applied: Type.Integer({ description: 'Recipient reports newly stored.' }),
  duplicates: Type.Integer({ description: 'Recipient reports seen before (nothing changed).' }),
  errors: Type.Array(Type.Object({ workspace_id: Type.String(), error: Type.String() })),
});

export const WorkspaceParams = Type.Object(
  { workspaceId: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);

const HealthStatusSchema = Type.Union([
  Type.Literal('ok'),
  Type.Literal('warning'),
  Type.Literal('critical'),
]);
const Rate = Type.Union([Type.Number(), Type.Null()], {
  description: 'Per recipient sent in the window (0.003 = 0.3%); null when nothing was sent.',
});
const HealthLineFields = {
  sent: Type.Integer({ description: 'Campaign sends (by finished_at) and messages (by sent_at) accepted.' }),
  hard_bounces: Type.Integer(),
  soft_bounces: Type.Integer(),
  complaints: Type.Integer(),
  hard_bounce_rate: Rate,
  soft_bounce_rate: Rate,
  complaint_rate: Rate,
  status: Type.Object({
    hard_bounce_rate: HealthStatusSchema,
    soft_bounce_rate: HealthStatusSchema,
    complaint_rate: HealthStatusSchema,
  }),
};
const Thresholds = Type.Object({ warning: Type.Number(), critical: Type.Number() });

export const HealthSchema = Type.Object({
  generated_at: Timestamp,
  thresholds: Type.Object(
    { complaint_rate: Thresholds, hard_bounce_rate: Thresholds, soft_bounce_rate: Thresholds },
    { description: 'A rate at or over warning is warning, at or over critical is critical.' },
  ),
  windows: Type.Array(
    Type.Object({
      days: Type.Integer(),
      since: Timestamp,
      total: Type.Object(HealthLineFields),
      providers: Type.Array(
        Type.Object({
          provider: Type.Union(
            ['gmail', 'yahoo', 'microsoft', 'apple', 'other'].map((p) => Type.Literal(p)),
            { description: 'Mailbox provider, from the recipient domain.' },
          ),
          ...HealthLineFields,
        }),
      ),
    }),
  ),
});
