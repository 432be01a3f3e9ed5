import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, PageOf, responses } from '../../http/schemas.js';
import type { AutomationEngine } from './automation-engine.js';
import type { AutomationReports } from './automation-reports.js';
import type { AutomationSimulator } from './automation-simulation.js';
import {
  AutomationCreateBody,
  AutomationListQuery,
  AutomationPatchBody,
  AutomationReportSchema,
  AutomationSchema,
  AutomationVersionSchema,
  BanditReportSchema,
  EnrollBody,
  EnrollResultSchema,
  HoldoutReportSchema,
  ReportQuery,
  RunListQuery,
  RunParams,
  RunSchema,
  RunWithStepsSchema,
  SimulateBody,
  SimulationSchema,
  ValidateBody,
  ValidationSchema,
  VersionListQuery,
  VersionParams,
} from './automations.schemas.js';
import type { AutomationService } from './automations.service.js';

const INVALID =
  'A bad definition is 422 AUTOMATION_INVALID with one entry per problem in `errors`, each with the JSON pointer of the failing part (/definition/nodes/3/next) and, inside the graph, the `node` id.';

/** The problem responses plus 422, which only the definition checks produce. */
function withInvalid<T extends Parameters<typeof responses>[0]>(ok: T) {
  return { ...responses(ok), 422: Type.Ref('Problem') };
}

export function automationsRoutes(deps: {
  automations: AutomationService;
  engine: AutomationEngine;
  simulator: AutomationSimulator;
  reports: AutomationReports;
}): FastifyPluginAsyncTypebox {
  const { automations, engine, simulator, reports } = deps;
  const tags = ['automations'];
  return async (app) => {
    app.get(
      '/v1/automations',
      {
        config: { scope: 'automations:read' },
        schema: {
          tags,
          summary: 'List automations',
          querystring: AutomationListQuery,
          response: responses({ 200: PageOf(AutomationSchema) }),
        },
      },
      async (request) =>
        automations.list(principalOf(request).workspaceId, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
          status: request.query.status,
        }),
    );

    app.post(
      '/v1/automations',
      {
        config: { scope: 'automations:write' },
        schema: {
          tags,
          summary: 'Create an automation (a draft)',
          description: `The definition is checked for structure (fields, values, the graph); the templates, lists and segments it names are checked when it is published. ${INVALID}`,
          body: AutomationCreateBody,
          response: withInvalid({ 201: AutomationSchema }),
        },
      },
      async (request, reply) =>
        reply.code(201).send(await automations.create(principalOf(request).workspaceId, request.body)),
    );

    app.post(
      '/v1/automations/validate',
      {
        config: { scope: 'automations:read' },
        schema: {
          tags,
          summary: 'Check a definition without saving it',
          description:
            'Everything publishing checks, including that the templates, lists and segments it names exist in this workspace. Always 200: `valid` says whether it would publish, `errors` says what to fix.',
          body: ValidateBody,
          response: responses({ 200: ValidationSchema }),
        },
      },
      async (request) => automations.validate(principalOf(request).workspaceId, request.body.definition),
    );

    app.get(
      '/v1/automations/:id',
      {
        config: { scope: 'automations:read' },
        schema: {
          tags,
          summary: 'Get an automation with its draft',
          params: IdParams,
          response: responses({ 200: AutomationSchema }),
        },
      },
      async (request) => automations.get(principalOf(request).workspaceId, request.params.id),
    );

    app.patch(
      '/v1/automations/:id',
      {
        config: { scope: 'automations:write' },
        schema: {
          tags,
          summary: 'Change name, description or the draft',
          description: `A new definition replaces the draft only; the published version stays as it is until the next publish. 409 AUTOMATION_STATE for an archived automation. ${INVALID}`,
          params: IdParams,
          body: AutomationPatchBody,
          response: withInvalid({ 200: AutomationSchema }),
        },
      },
      async (request) =>
        automations.update(principalOf(request).workspaceId, request.params.id, request.body),
    );

    app.delete(
      '/v1/automations/:id',
      {
        config: { scope: 'automations:write' },
        schema: {
          tags,
          summary: 'Delete an automation that was never published',
          description:
            '409 AUTOMATION_STATE once it has been published: archive it instead, which keeps its versions.',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await automations.remove(principalOf(request).workspaceId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/v1/automations/:id/publish',
      {
        config: { scope: 'automations:write' },
        schema: {
          tags,
          summary: 'Publish the draft as the next version',
          description: `Checks the draft fully, including its references, and saves it as version N+1 with the template version of each email pinned: contacts already inside keep the content they entered with. A draft becomes active; a paused automation stays paused. ${INVALID}`,
          params: IdParams,
          response: withInvalid({ 201: AutomationVersionSchema }),
        },
      },
      async (request, reply) =>
        reply.code(201).send(await automations.publish(principalOf(request).workspaceId, request.params.id)),
    );

    for (const [action, summary, description] of [
      [
        'pause',
        'Pause an active automation',
        'Nobody enters and runs inside wait until resumed. 409 AUTOMATION_STATE unless active.',
      ],
      ['resume', 'Resume a paused automation', '409 AUTOMATION_STATE unless paused.'],
      [
        'archive',
        'Archive an automation',
        'Stops it for good; its versions stay readable. 409 AUTOMATION_STATE when already archived.',
      ],
    ] as const) {
      app.post(
        `/v1/automations/:id/${action}`,
        {
          config: { scope: 'automations:write' },
          schema: {
            tags,
            summary,
            description,
            params: IdParams,
            response: responses({ 200: AutomationSchema }),
          },
        },
        async (request) => automations[action](principalOf(request).workspaceId, request.params.id),
      );
    }

    app.get(
      '/v1/automations/:id/versions',
      {
        config: { scope: 'automations:read' },
        schema: {
          tags,
          summary: 'List the published versions, oldest first',
          params: IdParams,
          querystring: VersionListQuery,
          response: responses({ 200: PageOf(AutomationVersionSchema) }),
        },
      },
      async (request) =>
        automations.versions(principalOf(request).workspaceId, request.params.id, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );

    app.get(
      '/v1/automations/:id/versions/:version',
      {
        config: { scope: 'automations:read' },
        schema: {
          tags,
          summary: 'Get one published version',
          params: VersionParams,
          response: responses({ 200: AutomationVersionSchema }),
        },
      },
      async (request) =>
        automations.version(principalOf(request).workspaceId, request.params.id, request.params.version),
    );

    app.get(
      '/v1/automations/webhook-secret',
      {
        config: { scope: 'automations:write' },
        schema: {
          tags,
          summary: "The workspace's webhook signing secret",
          description:
            'Webhook nodes POST JSON with `Herald-Signature: t=<unix seconds>,v1=<hex>`, the hex HMAC-SHA256 of `<t>.<body>` under this secret, and `Herald-Delivery: automation:<run id>:<step>` (the same on every retry). It changes when the secret keys rotate.',
          response: responses({ 200: Type.Object({ secret: Type.String() }, { title: 'WebhookSecret' }) }),
        },
      },
      async (request) => engine.webhookSecret(principalOf(request).workspaceId),
    );

    app.post(
      '/v1/automations/:id/enroll',
      {
        config: { scope: 'automations:write' },
        schema: {
          tags,
          summary: 'Enrol one contact',
          description:
            'Works for every trigger type (for api triggers it is the only way in; for the others it is how to try a journey). The contact enters the current version at its start node now; `data` is available to its emails as {{ automation.data }}. 201 with the run, or 200 with `enrolled: false`, the `reason` and the earlier `run` when the entry rules keep the contact out (already_inside, once_ever, again_after_not_reached) or the contact is unsubscribed, bounced, complained or blocked (contact_suppressed). 404 CONTACT_NOT_FOUND for an unknown contact; 409 AUTOMATION_STATE unless the automation is active (a paused one enrols nobody).',
          params: IdParams,
          body: EnrollBody,
          response: responses({ 200: EnrollResultSchema, 201: EnrollResultSchema }),
        },
      },
      async (request, reply) => {
        const result = await engine.enroll(principalOf(request).workspaceId, request.params.id, request.body);
        return reply.code(result.enrolled ? 201 : 200).send(result);
      },
    );

    app.post(
      '/v1/automations/:id/simulate',
      {
        config: { scope: 'automations:read' },
        schema: {
          tags,
          summary: 'Simulate a contact going through the automation',
          description:
            "Runs the journey for one contact (`contact`) or made-up data (`sample`) from `start_at`, with a `timeline` of the contact's events and opens/clicks, and returns every step, the emails that would be sent and when, and how it ends. Nothing is sent or changed. Decisions are the engine's own: conditions are evaluated against the contact's data (with the timeline's events and update_contact's changes), waits use the contact's time zone, and the workspace's frequency caps and quiet hours hold emails back as they would (counting the contact's real recent email). Each step runs when it is due (no worker lag); at one instant an event comes before a step. Entry rules are not applied: the simulation starts inside. 400 for a bad timeline (the item named), 404 for an unknown automation, version or contact, 409 for a never-published automation without \"version\": \"draft\", 422 for a draft that would not publish.",
          params: IdParams,
          body: SimulateBody,
          response: withInvalid({ 200: SimulationSchema }),
        },
      },
      async (request) => {
        const workspaceId = principalOf(request).workspaceId;
        const subject = await automations.simulationSubject(
          workspaceId,
          request.params.id,
          request.body.version,
        );
        return simulator.simulate(workspaceId, subject, request.body);
      },
    );

    app.get(
      '/v1/automations/:id/runs',
      {
        config: { scope: 'automations:read' },
        schema: {
          tags,
          summary: "List the automation's runs, oldest first",
          params: IdParams,
          querystring: RunListQuery,
          response: responses({ 200: PageOf(RunSchema) }),
        },
      },
      async (request) =>
        engine.runs(principalOf(request).workspaceId, request.params.id, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
          status: request.query.status,
        }),
    );

    app.get(
      '/v1/automations/:id/runs/:runId',
      {
        config: { scope: 'automations:read' },
        schema: {
          tags,
          summary: 'Get one run with its step executions',
          params: RunParams,
          response: responses({ 200: RunWithStepsSchema }),
        },
      },
      async (request) =>
        engine.run(principalOf(request).workspaceId, request.params.id, request.params.runId),
    );

    app.get(
      '/v1/automations/:id/report',
      {
        config: { scope: 'automations:read' },
        schema: {
          tags,
          summary: 'Automation report: runs, emails, opens, clicks, conversions, per node',
          description:
            'What the runs that entered in [from, to) did (default: every run): how many are inside, completed, exited or failed, reached the goal; their emails sent, opens and clicks (people and machines, as in the campaign report), conversions and revenue attributed to those emails; and per node how many reached it, wait in it, left it, and for emails, goals, branches and splits what happened there. Counted from the stored runs, steps, hits and conversions as they are now (hits within a second or so of the request). 400 VALIDATION_FAILED when from is not before to; 404 AUTOMATION_NOT_FOUND.',
          params: IdParams,
          querystring: ReportQuery,
          response: responses({ 200: AutomationReportSchema }),
        },
      },
      async (request) => reports.report(principalOf(request).workspaceId, request.params.id, request.query),
    );

    app.get(
      '/v1/automations/:id/bandits',
      {
        config: { scope: 'automations:read' },
        schema: {
          tags,
          summary: 'Bandit splits: evidence per path and where new runs go',
          description:
            'For every random_split with a bandit: per path the runs that took it, the trials whose outcome is known, the successes, the Beta(1 + successes, 1 + failures) posterior mean with its 95% credible interval, the probability to be best (seeded Monte Carlo) and the share of new runs it gets now. A run chooses by the path percents until every path has a known outcome, then by Thompson sampling, once per run. Outcomes known by now count (the engine decides on the same counts, read at most a minute earlier). 404 AUTOMATION_NOT_FOUND.',
          params: IdParams,
          response: responses({ 200: BanditReportSchema }),
        },
      },
      async (request) => reports.bandits(principalOf(request).workspaceId, request.params.id),
    );

    app.get(
      '/v1/automations/:id/holdout',
      {
        config: { scope: 'automations:read' },
        schema: {
          tags,
          summary: 'Lift against the holdout group',
          description:
            'Contacts whose run was treated against contacts held out (their run ended at enrolment and sent nothing), each contact once with its first run entered in [from, to): conversions (POST /v1/conversions) from enrolment for the attribution window, the rate with its 95% Wilson interval, the difference with its interval and two-proportion z-test p-value, relative lift and revenue per contact per currency. 400 VALIDATION_FAILED when from is not before to; 404 AUTOMATION_NOT_FOUND, or HOLDOUT_NOT_FOUND when no published version has a holdout.',
          params: IdParams,
          querystring: ReportQuery,
          response: responses({ 200: HoldoutReportSchema }),
        },
      },
      async (request) => reports.holdout(principalOf(request).workspaceId, request.params.id, request.query),
    );
  };
}
