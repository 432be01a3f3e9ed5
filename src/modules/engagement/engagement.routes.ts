import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { principalOf } from '../../http/auth.js';
import { responses } from '../../http/schemas.js';
import { EngagementModelsSchema, RefreshResultSchema, TrainResultSchema } from './engagement.schemas.js';
import type { EngagementService } from './engagement.service.js';

export function engagementRoutes(deps: { engagement: EngagementService }): FastifyPluginAsyncTypebox {
  const { engagement } = deps;
  const tags = ['engagement'];
  return async (app) => {
    app.get(
      '/v1/engagement/models',
      {
        config: { scope: 'engagement:read' },
        schema: {
          tags,
          summary: 'The engagement models in use, with their validation figures',
          description:
            'Per kind (open, click): the latest trained logistic regression (coefficients, features, training and ' +
            'validation counts, validation AUC against the recency-only baseline, Brier score, log loss, calibration) ' +
            'and the latest training attempt, which says why it was refused when there was too little data.',
          response: responses({ 200: EngagementModelsSchema }),
        },
      },
      async (request) => engagement.models(principalOf(request).workspaceId),
    );

    app.post(
      '/v1/engagement/train',
      {
        config: { scope: 'engagement:write' },
        schema: {
          tags,
          summary: 'Train the open and click models now, on this workspace’s own history',
          description:
            'Features as of a cutoff 14 days ago, labels from the marketing email sent since. A kind with too ' +
            'little data is refused with the reason, and its previous model stays in use. Answers when done; ' +
            'run POST /v1/engagement/refresh afterwards to apply a new model to every contact (the periodic ' +
            'training job does so itself).',
          response: responses({ 200: TrainResultSchema }),
        },
      },
      async (request) => {
        const [summary] = await engagement.train(principalOf(request).workspaceId);
        return summary as NonNullable<typeof summary>;
      },
    );

    app.post(
      '/v1/engagement/refresh',
      {
        config: { scope: 'engagement:write' },
        schema: {
          tags,
          summary: 'Recompute every contact’s engagement now',
          description:
            'Score, open and click probabilities (with the models in use) and best hour of every contact of the ' +
            'workspace, a page of contacts at a time. Answers when done (about as long as the periodic refresh).',
          response: responses({ 200: RefreshResultSchema }),
        },
      },
      async (request) => {
        const [summary] = await engagement.refresh(principalOf(request).workspaceId);
        return summary as NonNullable<typeof summary>;
      },
    );
  };
}
