import { describe, expect, it } from 'vitest';
import { describeRoute } from './audit-trail.js';

describe('describeRoute', () => {
  it('derives stable action names and target types from method and URL pattern', () => {
    const cases: [string, string, string, string][] = [
      ['POST', '/v1/templates', 'template.create', 'template'],
      ['PATCH', '/v1/templates/:id', 'template.update', 'template'],
      ['PUT', '/v1/snippets/:id', 'snippet.update', 'snippet'],
      ['DELETE', '/v1/api-keys/:id', 'api_key.delete', 'api_key'],
      ['POST', '/v1/campaigns/:id/send', 'campaign.send', 'campaign'],
      ['POST', '/v1/campaigns/:id/ab-test/winner', 'campaign.ab_test.winner', 'campaign'],
      ['POST', '/v1/lists/:id/members', 'list.members.create', 'list'],
      ['POST', '/v1/lists/:id/members/remove', 'list.members.remove', 'list'],
      ['PUT', '/v1/deliverability/settings', 'deliverability.settings.update', 'deliverability'],
      ['DELETE', '/v1/suppressions/:email', 'suppression.delete', 'suppression'],
      ['PATCH', '/v1/workspace', 'workspace.update', 'workspace'],
      ['POST', '/v1/sending-domains', 'sending_domain.create', 'sending_domain'],
      ['POST', '/v1/warmup-schedules', 'warmup_schedule.create', 'warmup_schedule'],
      ['POST', '/v1/properties', 'property.create', 'property'],
    ];
    for (const [method, url, action, targetType] of cases)
      expect(describeRoute(method, url), `${method} ${url}`).toEqual({ action, targetType });
  });
});
