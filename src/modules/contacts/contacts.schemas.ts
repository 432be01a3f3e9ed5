import { Type } from 'typebox';
import { NullableTimestamp, PageQuery, Timestamp } from '../../http/schemas.js';
import { ContactEngagementSchema } from '../engagement/index.js';

export const ContactStatusSchema = Type.Union(
  [
    Type.Literal('active'),
    Type.Literal('unsubscribed'),
    Type.Literal('bounced'),
    Type.Literal('complained'),
    Type.Literal('blocked'),
  ],
  { description: 'active, unsubscribed, bounced, complained or blocked' },
);

export const MembershipStatusSchema = Type.Union([
  Type.Literal('unconfirmed'),
  Type.Literal('confirmed'),
  Type.Literal('unsubscribed'),
]);

const Attributes = Type.Record(Type.String(), Type.Unknown(), {
  description:
    'Custom attributes. Defined attributes (GET /v1/attributes) must match their type. ' +
    'Values of sensitive attributes are stored encrypted and shown here decrypted.',
});

const DoNotSell = Type.Boolean({
  description:
    'CCPA "do not sell or share": true leaves the contact out of exports for third parties (purpose=third_party). ' +
    'Set by the API, an import column, the preference center, or a Global Privacy Control signal on a public page.',
});

export const ContactSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    email: Type.String(),
    external_id: Type.Union([Type.String(), Type.Null()]),
    status: ContactStatusSchema,
    attributes: Attributes,
    tags: Type.Array(Type.String()),
    timezone: Type.Union([Type.String(), Type.Null()]),
    locale: Type.Union([Type.String(), Type.Null()]),
    tracking_consent: Type.Boolean({
      description: 'false: messages to this contact carry no open pixel and no tracked links.',
    }),
    do_not_sell: DoNotSell,
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'Contact' },
);

export const HygieneWarningSchema = Type.Object(
  {
    path: Type.String({ description: 'The field the warning is about: /email.' }),
    code: Type.Union([
      Type.Literal('role_account'),
      Type.Literal('possible_typo'),
      Type.Literal('disposable_domain'),
    ]),
    message: Type.String(),
    suggestion: Type.Optional(Type.String({ description: 'For possible_typo: the corrected address.' })),
  },
  { title: 'HygieneWarning' },
);

export const ContactWrittenSchema = Type.Object(
  {
    ...ContactSchema.properties,
    warnings: Type.Optional(
      Type.Array(HygieneWarningSchema, {
        description:
          "Present when the email was stored despite a finding of the workspace's list hygiene policy " +
          '(a role address, a likely typo with its suggestion, a disposable domain set to warn).',
      }),
    ),
  },
  { title: 'ContactWritten' },
);

const Engagement = Type.Union([ContactEngagementSchema, Type.Null()], {
  description:
    'Engagement score, predicted open and click probabilities and best send hour, with the figures behind them; null until the engagement refresh has computed them for this contact.',
});

/** A contact as listed: with its engagement. */
export const ContactListedSchema = Type.Object(
  { ...ContactSchema.properties, engagement: Engagement },
  { title: 'ContactListed' },
);

export const ContactWithListsSchema = Type.Object(
  {
    ...ContactSchema.properties,
    engagement: Engagement,
    lists: Type.Array(
      Type.Object({
        list_id: Type.String({ format: 'uuid' }),
        list_name: Type.String(),
        status: MembershipStatusSchema,
        created_at: Timestamp,
        confirmed_at: NullableTimestamp,
        unsubscribed_at: NullableTimestamp,
      }),
    ),
  },
  { title: 'ContactWithLists' },
);

const EmailField = Type.String({
  minLength: 1,
  maxLength: 320,
  description: 'Normalized and validated on write.',
});
const ExternalId = Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()], {
  description: 'Your own id for the contact (CRM or shop id); unique per workspace.',
});
const Tags = Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 });
const Timezone = Type.Union([Type.String({ maxLength: 64 }), Type.Null()], {
  description: 'IANA time zone, e.g. Europe/Berlin.',
});
const Locale = Type.Union([Type.String({ maxLength: 35 }), Type.Null()], {
  description: 'BCP 47 locale, e.g. de-DE.',
});
const TrackingConsent = Type.Boolean({
  description:
    'Whether opens and clicks may be tracked in messages to this contact (default true); false sends no pixel and no rewritten links.',
});

export const ContactCreateBody = Type.Object(
  {
    email: EmailField,
    external_id: Type.Optional(ExternalId),
    status: Type.Optional(ContactStatusSchema),
    attributes: Type.Optional(Attributes),
    tags: Type.Optional(Tags),
    timezone: Type.Optional(Timezone),
    locale: Type.Optional(Locale),
    tracking_consent: Type.Optional(TrackingConsent),
    do_not_sell: Type.Optional(DoNotSell),
  },
  { additionalProperties: false },
);

export const ContactPatchBody = Type.Object(
  {
    email: Type.Optional(EmailField),
    external_id: Type.Optional(ExternalId),
    status: Type.Optional(ContactStatusSchema),
    attributes: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'Merged into the stored attributes; null removes a key.',
      }),
    ),
    tags: Type.Optional(
      Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100, description: 'Replaces all tags.' }),
    ),
    add_tags: Type.Optional(Tags),
    remove_tags: Type.Optional(Tags),
    timezone: Type.Optional(Timezone),
    locale: Type.Optional(Locale),
    tracking_consent: Type.Optional(TrackingConsent),
    do_not_sell: Type.Optional(DoNotSell),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const ContactFilterQuery = {
  status: Type.Optional(ContactStatusSchema),
  list_id: Type.Optional(Type.String({ format: 'uuid', description: 'Only members of this list.' })),
  list_status: Type.Optional(MembershipStatusSchema),
  attribute: Type.Optional(
    Type.Array(Type.String({ pattern: '^[^:]+:.*$' }), {
      description: 'Attribute equality as name:value; repeat for several (all must match).',
    }),
  ),
  tag: Type.Optional(Type.String()),
  email: Type.Optional(Type.String()),
  created_after: Type.Optional(Type.String({ format: 'date-time' })),
  created_before: Type.Optional(Type.String({ format: 'date-time' })),
  updated_after: Type.Optional(Type.String({ format: 'date-time' })),
  updated_before: Type.Optional(Type.String({ format: 'date-time' })),
};

export const ContactListQuery = Type.Object(
  { ...PageQuery, ...ContactFilterQuery },
  { additionalProperties: false },
);

export const ConsentRecordSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    contact_id: Type.String({ format: 'uuid' }),
    list_id: Type.Union([Type.String(), Type.Null()]),
    purpose: Type.Union([Type.String(), Type.Null()]),
    action: Type.String({ description: 'subscribe, confirm, unsubscribe or status_change' }),
    source: Type.String({ description: 'api, import, form, cli or system' }),
    source_id: Type.Union([Type.String(), Type.Null()], { description: 'API key id, import id or form id.' }),
    ip: Type.Union([Type.String(), Type.Null()]),
    user_agent: Type.Union([Type.String(), Type.Null()]),
    detail: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    created_at: Timestamp,
  },
  { title: 'ConsentRecord' },
);
