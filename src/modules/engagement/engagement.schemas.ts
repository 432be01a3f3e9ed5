import { Type } from 'typebox';
import { Timestamp } from '../../http/schemas.js';

const Probability = (description: string) =>
  Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], { description });
const HourOfWeek = (description: string) =>
  Type.Union([Type.Integer({ minimum: 0, maximum: 167 }), Type.Null()], { description });
const Count = (description: string) => Type.Integer({ minimum: 0, description });
const At = (description: string) => Type.Unsafe<Date>({ type: 'string', format: 'date-time', description });
const TrainingStatus = Type.Union([Type.Literal('trained'), Type.Literal('refused')], {
  description:
    'trained: a model was stored and is now in use; refused: too little data, the previous model stays.',
});
const ModelKind = Type.Union([Type.Literal('open'), Type.Literal('click')], {
  description: 'open: predicts a human open; click: a human click.',
});

export const ContactEngagementSchema = Type.Object(
  {
    score: Type.Number({
      minimum: 0,
      description:
        'Engagement score: 1 per human open, 3 per human click, 5 per conversion (each email counted once per kind), each halved every 30 days, over 365 days, as of computed_at.',
    }),
    open_probability: Probability(
      'Predicted probability to open (human) a marketing email sent in the next 14 days, given one is sent; null while the workspace has no open model.',
    ),
    click_probability: Probability(
      'Predicted probability to click (human) a marketing email sent in the next 14 days, given one is sent; null while the workspace has no click model.',
    ),
    best_hour: HourOfWeek(
      "Hour of the week (0-167 in UTC, 0 = Monday 00:00-00:59) the contact most likely engages at: their own opens and clicks of 180 days smoothed with the workspace's; null without any history in the workspace.",
    ),
    best_hour_source: Type.Union([Type.Literal('contact'), Type.Literal('workspace'), Type.Null()], {
      description:
        "contact: the contact's own engagement shaped it (with the workspace's as prior); workspace: the contact has none, so it is the workspace's best hour.",
    }),
    at_risk: Type.Boolean({
      description:
        'Engaged (human open or click) in the last 180 days, but not in the last 60, or with an open probability below 0.1: the at_risk segment condition, as of now.',
    }),
    last_open_at: Type.Union([Timestamp, Type.Null()], { description: 'Last human open (within 365 days).' }),
    last_click_at: Type.Union([Timestamp, Type.Null()], {
      description: 'Last human click (within 365 days).',
    }),
    last_conversion_at: Type.Union([Timestamp, Type.Null()], {
      description: 'Last conversion (within 365 days).',
    }),
    opens_30d: Count('Emails opened (human) in the 30 days before computed_at.'),
    opens_90d: Count('Emails opened (human) in the 90 days before computed_at.'),
    clicks_30d: Count('Emails clicked (human) in the 30 days before computed_at.'),
    clicks_90d: Count('Emails clicked (human) in the 90 days before computed_at.'),
    received_30d: Count(
      'Marketing emails sent to the contact (campaigns and marketing automation emails) in 30 days.',
    ),
    received_90d: Count('Marketing emails sent to the contact in 90 days.'),
    conversions_365d: Count('Conversions recorded for the contact in 365 days.'),
    open_model_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
      description: 'The model open_probability comes from (GET /v1/engagement/models).',
    }),
    click_model_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
      description: 'The model click_probability comes from.',
    }),
    computed_at: At('When the refresh computed these figures (the score and counts are as of this instant).'),
  },
  {
    title: 'ContactEngagement',
    description:
      'Computed by the engagement refresh (periodically, or POST /v1/engagement/refresh); null until it has run for the contact.',
  },
);

const CalibrationBinSchema = Type.Object({
  lower: Type.Number({ description: 'Predictions from this probability...' }),
  upper: Type.Number({ description: '...up to this one (the last bin includes 1).' }),
  count: Type.Integer({ description: 'Validation contacts in the bin.' }),
  mean_predicted: Type.Number({ description: 'Their mean predicted probability.' }),
  observed_rate: Type.Number({ description: 'The share of them that opened (or clicked).' }),
});

export const EngagementModelSchema = Type.Object(
  {
    id: Type.String({
      format: 'uuid',
      description: 'The model; contacts name it in open_model_id / click_model_id.',
    }),
    kind: ModelKind,
    cutoff: Type.Unsafe<Date>({
      type: 'string',
      format: 'date-time',
      description:
        'Features were read as of this instant; labels from marketing email sent in the horizon after it.',
    }),
    horizon_days: Type.Integer({ description: 'Length of the label window after the cutoff.' }),
    features: Type.Array(Type.String(), {
      description: 'Feature names, in the order of weights (see the README for their definitions).',
    }),
    intercept: Type.Number({ description: 'Log-odds intercept.' }),
    weights: Type.Array(Type.Number(), {
      description: 'Log-odds per unit of each feature, on its raw scale.',
    }),
    training_rows: Type.Integer({
      description: 'Contacts the model was fitted on (four fifths, by contact id).',
    }),
    validation_rows: Type.Integer({ description: 'Held-out contacts the figures below are measured on.' }),
    training_positives: Type.Integer({ description: 'Training contacts that opened (or clicked).' }),
    validation_positives: Type.Integer({ description: 'Validation contacts that opened (or clicked).' }),
    validation_auc: Type.Number({
      description:
        'Area under the ROC curve on the validation contacts: 0.5 is chance, 1 is perfect ranking.',
    }),
    baseline_auc: Type.Number({
      description:
        'AUC of the recency-only baseline (minus days since the last human open) on the same contacts.',
    }),
    brier: Type.Number({
      description: 'Brier score on the validation contacts (mean squared error; lower is better).',
    }),
    log_loss: Type.Number({ description: 'Log loss on the validation contacts (nats; lower is better).' }),
    calibration: Type.Array(CalibrationBinSchema, {
      description: 'Predicted against observed rates in ten probability bins (empty bins left out).',
    }),
    trained_at: At('When it was trained.'),
  },
  { title: 'EngagementModel' },
);

export const EngagementModelsSchema = Type.Object(
  {
    data: Type.Array(
      Type.Object({
        kind: ModelKind,
        model: Type.Union([EngagementModelSchema, Type.Null()], {
          description: 'The model in use: the latest one trained; null before the first.',
        }),
        last_attempt: Type.Union(
          [
            Type.Object({
              status: TrainingStatus,
              reason: Type.Union([Type.String(), Type.Null()], {
                description: 'Why training was refused (too little data); the previous model stays in use.',
              }),
              model_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
                description: 'The model this attempt stored (null when refused).',
              }),
              at: At('When the attempt ran.'),
            }),
            Type.Null(),
          ],
          { description: 'The latest training attempt of this kind; null before the first.' },
        ),
      }),
      { description: 'One entry per kind: open, then click.' },
    ),
  },
  { title: 'EngagementModels' },
);

export const TrainResultSchema = Type.Object(
  {
    cutoff: At('Features were read as of this instant (horizon_days before now).'),
    horizon_days: Type.Integer({
      description: 'Days after the cutoff whose marketing email labels the contacts.',
    }),
    rows: Type.Integer({
      description:
        'Contacts created before the cutoff that were sent marketing email in the horizon (sampled above 200,000).',
    }),
    results: Type.Array(
      Type.Object({
        kind: ModelKind,
        status: TrainingStatus,
        reason: Type.Union([Type.String(), Type.Null()], {
          description: 'Why it was refused: what the minimum is and what the workspace has.',
        }),
        model: Type.Union([EngagementModelSchema, Type.Null()], {
          description: 'The model stored (null when refused).',
        }),
      }),
      { description: 'One result per kind: open, then click.' },
    ),
  },
  { title: 'EngagementTrainResult' },
);

export const RefreshResultSchema = Type.Object(
  {
    contacts: Type.Integer({ description: 'Contacts whose engagement was written.' }),
    open_model_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
      description: 'The open model applied (null: none trained yet).',
    }),
    click_model_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
      description: 'The click model applied (null: none trained yet).',
    }),
    workspace_best_hour: Type.Union([Type.Integer(), Type.Null()], {
      description:
        "The workspace's best hour of the week (0 = Monday 00:00 UTC), given to contacts without history.",
    }),
    computed_at: At('The instant the figures were computed as of.'),
  },
  { title: 'EngagementRefreshResult' },
);
