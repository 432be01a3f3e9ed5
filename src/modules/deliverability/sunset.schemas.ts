import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from '../../http/schemas.js';

const InactiveDays = Type.Integer({
  minimum: 7,
  maximum: 3650,
  description: 'Days without a human or proxy open or click and without a conversion (default 180).',
});
const MinEmails = Type.Integer({
  minimum: 1,
  maximum: 1000,
  description: 'Tracked marketing emails the contact was sent in those days, at least (default 5).',
});
const MaxOpenProbability = Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 0.5 }), Type.Null()], {
  description:
    "The predictive rule (default null: off): contacts whose predicted probability to open the next marketing email (the engagement model's open_probability) is below this are sunset after predicted_inactive_days instead of inactive_days. Contacts without a prediction are left to the plain rule.",
});
const PredictedInactiveDays = Type.Integer({
  minimum: 7,
  maximum: 3650,
  description:
    'Days without engagement after which the predictive rule sunsets (default 60; it never sunsets anyone who engaged within them; it does nothing when not shorter than inactive_days).',
});

export const SunsetSettingsSchema = Type.Object(
  {
    enabled: Type.Boolean({ description: 'Whether the daily job applies the policy (default false).' }),
    inactive_days: InactiveDays,
    min_emails: MinEmails,
    max_open_probability: MaxOpenProbability,
    predicted_inactive_days: PredictedInactiveDays,
    last_run_at: NullableTimestamp,
    last_run_suppressed: Type.Union([Type.Integer(), Type.Null()]),
  },
  { title: 'SunsetSettings' },
);

export const SunsetSettingsBody = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    inactive_days: Type.Optional(InactiveDays),
    min_emails: Type.Optional(MinEmails),
    max_open_probability: Type.Optional(MaxOpenProbability),
    predicted_inactive_days: Type.Optional(PredictedInactiveDays),
  },
  { additionalProperties: false },
);

export const SunsetPreviewBody = Type.Object(
  {
    inactive_days: Type.Optional(InactiveDays),
    min_emails: Type.Optional(MinEmails),
    max_open_probability: Type.Optional(MaxOpenProbability),
    predicted_inactive_days: Type.Optional(PredictedInactiveDays),
  },
  {
    additionalProperties: false,
    description: 'Values to try instead of the saved ones (left out: the saved).',
  },
);

export const SunsetPreviewSchema = Type.Object(
  {
    evaluated_at: Timestamp,
    inactive_days: Type.Integer(),
    min_emails: Type.Integer(),
    max_open_probability: Type.Union([Type.Number(), Type.Null()]),
    predicted_inactive_days: Type.Integer(),
    would_suppress: Type.Integer({ description: 'Contacts a run now would suppress.' }),
    sample: Type.Array(
      Type.Object({
        contact_id: Type.String({ format: 'uuid' }),
        email: Type.String(),
        emails: Type.Integer({ description: 'Tracked marketing emails sent in the window.' }),
        created_at: Timestamp,
        last_engaged_at: NullableTimestamp,
      }),
      { description: 'Up to 20 of them, by contact id.' },
    ),
  },
  { title: 'SunsetPreview' },
);

export const SunsetRunSchema = Type.Object(
  {
    ran_at: Timestamp,
    inactive_days: Type.Integer(),
    min_emails: Type.Integer(),
    suppressed: Type.Integer({ description: 'Addresses added to the suppression list (reason sunset).' }),
  },
  { title: 'SunsetRun' },
);
