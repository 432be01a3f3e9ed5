import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { principalOf } from '../../http/auth.js';
import { responses } from '../../http/schemas.js';
import {
  SunsetPreviewBody,
  SunsetPreviewSchema,
  SunsetRunSchema,
  SunsetSettingsBody,
  SunsetSettingsSchema,
} from './sunset.schemas.js';
import type { SunsetPolicy } from './sunset-policy.js';

const WHAT =
  'Contacts with no human or proxy open or click (prefetch, scanner and bot hits never count) and no conversion for ' +
  'inactive_days, who were sent at least min_emails tracked marketing emails in that time and were created before ' +
  'it, are suppressed with reason sunset. Contacts without tracking consent are never selected. Sunset entries ' +
  'hold back marketing email only; transactional messages still go.';

export function sunsetRoutes(deps: { sunset: SunsetPolicy }): FastifyPluginAsyncTypebox {
  const { sunset } = deps;
  return async (app) => {
    const tags = ['deliverability'];

    app.get(
      '/v1/deliverability/sunset',
      {
        config: { scope: 'suppressions:read' },
        schema: {
          tags,
          summary: 'Get the sunset policy',
          description: `${WHAT} Off by default.`,
          response: responses({ 200: SunsetSettingsSchema }),
        },
      },
      async (request) => sunset.settings(principalOf(request).workspaceId),
    );

    app.put(
      '/v1/deliverability/sunset',
      {
        config: { scope: 'suppressions:write' },
        schema: {
          tags,
          summary: 'Set the sunset policy',
          description: `${WHAT} With enabled, a daily job applies it. Fields left out keep their value.`,
          body: SunsetSettingsBody,
          response: responses({ 200: SunsetSettingsSchema }),
        },
      },
      async (request) => sunset.update(principalOf(request).workspaceId, request.body),
    );

    app.post(
      '/v1/deliverability/sunset/preview',
      {
        config: { scope: 'suppressions:read' },
        schema: {
          tags,
          summary: 'Count whom the sunset policy would suppress now (dry run)',
          description:
            'The same selection a run makes, counted, with a sample of 20; changes nothing. Give inactive_days or ' +
            'min_emails to try other values than the saved ones.',
          body: SunsetPreviewBody,
          response: responses({ 200: SunsetPreviewSchema }),
        },
      },
      async (request) => sunset.preview(principalOf(request).workspaceId, request.body),
    );

    app.post(
      '/v1/deliverability/sunset/run',
      {
        config: { scope: 'suppressions:write' },
        schema: {
          tags,
          summary: 'Apply the sunset policy now',
          description:
            'Suppresses the contacts the saved settings select, whether or not the policy is enabled. Running it ' +
            'again suppresses only contacts that became inactive since.',
          response: responses({ 200: SunsetRunSchema }),
        },
      },
      async (request) => sunset.run(principalOf(request).workspaceId),
    );
  };
}
