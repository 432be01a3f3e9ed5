import { Type } from 'typebox';
import { Timestamp } from '../../http/schemas.js';

const Rows = (description: string) => Type.Array(Type.Record(Type.String(), Type.Unknown()), { description });

export const DataExportSchema = Type.Object(
  {
    generated_at: Timestamp,
    profile: Type.Record(Type.String(), Type.Unknown(), {
      description:
        'The contact: email, external_id, status, attributes, tags, time zone, locale, tracking consent.',
    }),
    list_memberships: Rows('Lists the person is on, with status and confirmation/unsubscribe times.'),
    consent_records: Rows(
      'The consent ledger: every subscribe, confirm, unsubscribe and status change, with IP and user agent as stored.',
    ),
    campaign_sends: Rows('Campaign emails sent (or held back) to the person.'),
    messages: Rows('Transactional and automation emails, with their payload (template data).'),
    automation_runs: Rows('Journeys the person went through and their trigger data.'),
    events: Rows('Behavioural events (track, identify, page, screen).'),
    anonymous_ids: Rows('Anonymous ids linked to the person.'),
    tracking_hits: Rows('Opens and clicks, with IP and user agent as stored.'),
    conversions: Rows('Conversions attributed to the person.'),
    bounce_events: Rows('Bounces, complaints and other delivery reports about the address.'),
    suppressions: Rows('The address on the suppression list, if it is.'),
    segment_memberships: Rows('Saved segments the person is recorded in.'),
    engagement: Rows('Engagement score, predictions and activity counts.'),
  },
  { description: 'Everything Herald holds about one person (right of access).' },
);

export const AccessQuery = Type.Object(
  { email: Type.String({ minLength: 3, maxLength: 320, description: 'The address, any case.' }) },
  { additionalProperties: false },
);

const Reason = Type.String({
  minLength: 1,
  maxLength: 500,
  description:
    'Why the data is erased, kept in the erasure receipt, e.g. "GDPR art. 17 request of 2026-12-01". Never put the address here.',
});

export const EraseBody = Type.Object({ reason: Reason }, { additionalProperties: false });

export const EraseByEmailBody = Type.Object(
  { email: Type.String({ minLength: 3, maxLength: 320 }), reason: Reason },
  { additionalProperties: false },
);

export const ErasureReceiptSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    erased_at: Timestamp,
    reason: Type.String(),
    contact_found: Type.Boolean({ description: 'Whether a contact row existed.' }),
    counts: Type.Record(Type.String(), Type.Integer(), {
      description:
        'Rows deleted per kind of data (conversions_anonymized: conversions kept without the person).',
    }),
    total: Type.Integer(),
  },
  { description: 'What an erasure deleted, counted per kind. Holds no personal data.' },
);

const Days = (description: string) =>
  Type.Union([Type.Integer({ minimum: 1, maximum: 36500 }), Type.Null()], {
    description: `${description} Days, or null to keep it (the default).`,
  });

const RETENTION_FIELDS = {
  events_days: Days('Behavioural events, by the time they occurred.'),
  tracking_hits_days: Days(
    'Opens and clicks with their IP and user agent (the campaign reports keep their counts).',
  ),
  send_ledger_days: Days(
    'Send ledger rows (who got which campaign) of sent or cancelled campaigns, by when sent.',
  ),
  message_bodies_days: Days(
    'Template data of sent or failed transactional and automation messages (cleared, the row stays).',
  ),
  bounce_details_days: Days(
    'Diagnostic text and evidence of bounce and complaint events (cleared, the event stays).',
  ),
  consent_records_days: Days(
    'Consent records. Keep them (null) unless you have a reason: they are your evidence of consent.',
  ),
  unsubscribed_contacts_days: Days(
    'Contacts unsubscribed and unchanged for this long are deleted with all their data, as in an erasure but without the erased entry (they may subscribe again).',
  ),
};

export const RetentionBody = Type.Object(
  {
    events_days: Type.Optional(RETENTION_FIELDS.events_days),
    tracking_hits_days: Type.Optional(RETENTION_FIELDS.tracking_hits_days),
    send_ledger_days: Type.Optional(RETENTION_FIELDS.send_ledger_days),
    message_bodies_days: Type.Optional(RETENTION_FIELDS.message_bodies_days),
    bounce_details_days: Type.Optional(RETENTION_FIELDS.bounce_details_days),
    consent_records_days: Type.Optional(RETENTION_FIELDS.consent_records_days),
    unsubscribed_contacts_days: Type.Optional(RETENTION_FIELDS.unsubscribed_contacts_days),
  },
  { additionalProperties: false },
);

export const RetentionSchema = Type.Object({
  ...RETENTION_FIELDS,
  last_run_at: Type.Union([Timestamp, Type.Null()]),
  last_run_deleted: Type.Union([Type.Record(Type.String(), Type.Integer()), Type.Null()], {
    description: 'Rows deleted or cleared per kind by the last run.',
  }),
});
