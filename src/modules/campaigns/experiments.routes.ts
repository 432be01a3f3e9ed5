import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, NullableTimestamp, responses, Timestamp } from '../../http/schemas.js';
import { CampaignSchema } from './campaigns.schemas.js';
import type { CampaignService } from './campaigns.service.js';
import type { ExperimentService } from './experiments.service.js';

const Interval = Type.Object({ lower: Type.Number(), upper: Type.Number() });

const Evaluation = Type.Object(
  {
    outcome: Type.Union([Type.Literal('winner'), Type.Literal('inconclusive')]),
    winner: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Position of the variant the remainder gets (0 = the first); null while a person chooses.',
    }),
    chosen_by: Type.Union([
      Type.Literal('test'),
      Type.Literal('policy'),
      Type.Literal('manual'),
      Type.Null(),
    ]),
    leader: Type.Integer({ description: 'Position of the best-performing variant.' }),
    metric: Type.String(),
    method: Type.String(),
    confidence: Type.Number(),
    reason: Type.String({ description: 'Why this winner (or none), in words.' }),
    variants: Type.Array(
      Type.Object({
        name: Type.String(),
        position: Type.Integer(),
        trials: Type.Integer({
          description: 'Test recipients judged (for click_to_open: human openers).',
        }),
        successes: Type.Integer(),
        value: Type.Number({ description: 'The rate, or revenue per recipient.' }),
        interval: Interval,
        probability_to_be_best: Type.Number(),
        p_value: Type.Union([Type.Number(), Type.Null()], { description: 'Against the leader.' }),
        adjusted_p_value: Type.Union([Type.Number(), Type.Null()], {
          description: 'Holm-adjusted for the number of comparisons.',
        }),
      }),
    ),
  },
  { title: 'AbTestEvaluation' },
);

const AbTestReport = Type.Object(
  {
    campaign_id: Type.String(),
    status: Type.String(),
    phase: Type.String(),
    metric: Type.String(),
    method: Type.String(),
    confidence: Type.Number(),
    test_size: Type.Union([Type.Integer(), Type.Null()]),
    test_queued: Type.Integer({ description: 'Test recipients not sent yet (send-time variants).' }),
    decide_at: NullableTimestamp,
    winner: Type.Union([Type.String(), Type.Null()]),
    decided_by: Type.Union([Type.String(), Type.Null()]),
    decided_at: NullableTimestamp,
    evaluation: Evaluation,
    final: Type.Boolean({
      description: 'true once decided: the evaluation is the one the decision was made on.',
    }),
  },
  { title: 'AbTestReport' },
);

const Group = Type.Object({
  contacts: Type.Integer(),
  converters: Type.Integer(),
  conversion_rate: Type.Number(),
  interval: Interval,
  revenue: Type.Array(Type.Object({ currency: Type.String(), amount: Type.String() })),
});

const HoldoutReport = Type.Object(
  {
    campaign_id: Type.String(),
    holdout_share: Type.Number(),
    window: Type.Object({ from: Timestamp, until: Timestamp }),
    treated: Group,
    holdout: Group,
    lift: Type.Object({
      difference: Type.Number({
        description: 'Conversion rate of recipients minus that of the holdout group.',
      }),
      interval: Interval,
      relative: Type.Union([Type.Number(), Type.Null()], {
        description: 'Relative lift; null when the holdout group has no conversions.',
      }),
      p_value: Type.Number({ description: 'Two-sided, two-proportion z-test.' }),
      revenue_per_contact: Type.Array(
        Type.Object({
          currency: Type.String(),
          treated: Type.Number(),
          holdout: Type.Number(),
          difference: Type.Number(),
        }),
      ),
    }),
  },
  { title: 'HoldoutReport' },
);

export function experimentsRoutes(deps: {
  experiments: ExperimentService;
  campaigns: Pick<CampaignService, 'get'>;
}): FastifyPluginAsyncTypebox {
  const tags = ['campaigns'];
  return async (app) => {
    app.get(
      '/v1/campaigns/:id/ab-test',
      {
        config: { scope: 'analytics:read' },
        schema: {
          tags,
          summary: "An A/B test's results and decision",
          description:
            'Per variant: recipients judged, rate (or revenue per recipient) with its interval, probability to be best and p-value against the leader; the winner and why. Live while the test runs; the stored evaluation once decided. 404 AB_TEST_NOT_FOUND for a campaign without a test.',
          params: IdParams,
          response: responses({ 200: AbTestReport }),
        },
      },
      async (request) => deps.experiments.abTestReport(principalOf(request).workspaceId, request.params.id),
    );

    app.post(
      '/v1/campaigns/:id/ab-test/winner',
      {
        config: { scope: 'campaigns:send' },
        schema: {
          tags,
          summary: "Choose an A/B test's winner",
          description:
            'Overrides the test while its window runs, or decides an inconclusive test that waits for a person. The remainder is sent the chosen variant at once. 409 unless the campaign is testing and undecided.',
          params: IdParams,
          body: Type.Object(
            { variant: Type.String({ minLength: 1, maxLength: 50, description: 'The variant by name.' }) },
            { additionalProperties: false },
          ),
          response: responses({ 200: CampaignSchema }),
        },
      },
      async (request) => {
        const workspaceId = principalOf(request).workspaceId;
        await deps.experiments.chooseWinner(workspaceId, request.params.id, request.body.variant);
        return deps.campaigns.get(workspaceId, request.params.id);
      },
    );

    app.get(
      '/v1/campaigns/:id/holdout',
      {
        config: { scope: 'analytics:read' },
        schema: {
          tags,
          summary: 'Lift against the holdout group',
          description:
            'Conversions of the recipients and of the held-out contacts (who received nothing) from the start for the attribution window, with the difference, its 95% interval, a two-proportion z-test and revenue per contact per currency. 404 HOLDOUT_NOT_FOUND without a holdout group.',
          params: IdParams,
          response: responses({ 200: HoldoutReport }),
        },
      },
      async (request) => deps.experiments.holdoutReport(principalOf(request).workspaceId, request.params.id),
    );
  };
}
