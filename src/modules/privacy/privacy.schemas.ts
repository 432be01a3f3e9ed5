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
