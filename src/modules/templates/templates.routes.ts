import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, PageOf, responses } from '../../http/schemas.js';
import {
  PreviewBody,
  RenderedSchema,
  SnippetBody,
  SnippetSchema,
  TemplateCreateBody,
  TemplatePageQuery,
  TemplatePatchBody,
  TemplateSchema,
  TemplateVersionSchema,
  TemplateWithVersionSchema,
  VersionCreateBody,
  VersionParams,
} from './templates.schemas.js';
import type { TemplateService } from './templates.service.js';

const CONTEXT_DOC =
  'Subject, preheader, body and text are Liquid. Variables: `contact` (email, external_id, attributes, tags, ' +
  'timezone, locale, status), `lists` (id, name, status), `workspace` (name), `campaign` (id, name; when sent ' +
  'by a campaign), `unsubscribe_url`, `preferences_url`, `view_in_browser_url`. Example: ' +
  '`{{ contact.attributes.first_name | default: "there" }}`. Output in the HTML part is HTML-escaped (`| raw` ' +
  "opts out). Snippets: `{% render 'footer' %}` (quoted names only). Saving refuses invalid Liquid or MJML, " +
  'unknown snippets, unquoted snippet names and snippet include cycles (the error gives the cycle, e.g. ' +
  '"a -> b -> a") with 400 TEMPLATE_INVALID, each error with its line and column.';

export function templatesRoutes(deps: { templates: TemplateService }): FastifyPluginAsyncTypebox {
  const { templates } = deps;
  const tags = ['templates'];
  return async (app) => {
    app.get(
      '/v1/templates',
      {
        config: { scope: 'templates:read' },
        schema: {
          tags,
          summary: 'List templates',
          description: 'Ordered by creation.',
          querystring: TemplatePageQuery,
          response: responses({ 200: PageOf(TemplateSchema) }),
        },
      },
      async (request) =>
        templates.list(principalOf(request).workspaceId, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );

    app.post(
      '/v1/templates',
      {
        config: { scope: 'templates:write' },
        schema: {
          tags,
          summary: 'Create a template with its first version',
          description: `${CONTEXT_DOC} MJML is compiled and CSS inlined once, here, never per recipient.`,
          body: TemplateCreateBody,
          response: responses({ 201: TemplateWithVersionSchema }),
        },
      },
      async (request, reply) => {
        const created = await templates.create(principalOf(request).workspaceId, request.body);
        return reply.code(201).send(created);
      },
    );

    app.get(
      '/v1/templates/:id',
      {
        config: { scope: 'templates:read' },
        schema: {
          tags,
          summary: 'Get a template with its latest version',
          params: IdParams,
          response: responses({ 200: TemplateWithVersionSchema }),
        },
      },
      async (request) => templates.get(principalOf(request).workspaceId, request.params.id),
    );

    app.patch(
      '/v1/templates/:id',
      {
        config: { scope: 'templates:write' },
        schema: {
          tags,
          summary: 'Rename a template or change its kind or strictness',
          description: 'The content changes only through a new version (POST /v1/templates/{id}/versions).',
          params: IdParams,
          body: TemplatePatchBody,
          response: responses({ 200: TemplateSchema }),
        },
      },
      async (request) => templates.update(principalOf(request).workspaceId, request.params.id, request.body),
    );

    app.delete(
      '/v1/templates/:id',
      {
        config: { scope: 'templates:write' },
        schema: {
          tags,
          summary: 'Delete a template',
          description:
            'Refused with 409 TEMPLATE_IN_USE while an unfinished campaign (draft, scheduled, sending, paused) ' +
            'uses it by template_id or a pinned version; the error names the campaigns (errors[].campaign_id, ' +
            'campaign_name, campaign_status), and likewise while an automation that is not archived names it in ' +
            'its draft (by id or name) or pinned it in its current version (errors[].automation_id, ' +
            'automation_name, automation_status). Otherwise the template is gone from the API and its name is free, ' +
            'but its immutable versions are kept for the finished campaigns, transactional messages and "view ' +
            'in browser" pages that pinned them. Lists using it for confirmation emails fall back to the ' +
            'built-in text.',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await templates.remove(principalOf(request).workspaceId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/v1/templates/:id/versions',
      {
        config: { scope: 'templates:write' },
        schema: {
          tags,
          summary: 'Save a change as a new version',
          description: `Versions never change; this creates the next one and makes it the latest. ${CONTEXT_DOC}`,
          params: IdParams,
          body: VersionCreateBody,
          response: responses({ 201: TemplateVersionSchema }),
        },
      },
      async (request, reply) => {
        const version = await templates.createVersion(
          principalOf(request).workspaceId,
          request.params.id,
          request.body,
        );
        return reply.code(201).send(version);
      },
    );

    app.get(
      '/v1/templates/:id/versions',
      {
        config: { scope: 'templates:read' },
        schema: {
          tags,
          summary: "A template's versions",
          description: 'Oldest first.',
          params: IdParams,
          querystring: TemplatePageQuery,
          response: responses({ 200: PageOf(TemplateVersionSchema) }),
        },
      },
      async (request) =>
        templates.versions(principalOf(request).workspaceId, request.params.id, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );

    app.get(
      '/v1/templates/:id/versions/:version',
      {
        config: { scope: 'templates:read' },
        schema: {
          tags,
          summary: 'One version by its number',
          params: VersionParams,
          response: responses({ 200: TemplateVersionSchema }),
        },
      },
      async (request) =>
        templates.versionByNumber(
          principalOf(request).workspaceId,
          request.params.id,
          request.params.version,
        ),
    );

    app.post(
      '/v1/templates/:id/preview',
      {
        config: { scope: 'templates:read' },
        schema: {
          tags,
          summary: 'Render a version for a contact or sample data',
          description:
            `${CONTEXT_DOC} Preview uses placeholder URLs (https://example.invalid/unsubscribe, ...) and a ` +
            'campaign named "Preview". In strict mode an unknown variable fails with 400 TEMPLATE_RENDER_FAILED ' +
            'naming the variable and its line and column.',
          params: IdParams,
          body: PreviewBody,
          response: responses({ 200: RenderedSchema }),
        },
      },
      async (request) => templates.preview(principalOf(request).workspaceId, request.params.id, request.body),
    );

    app.get(
      '/v1/snippets',
      {
        config: { scope: 'templates:read' },
        schema: {
          tags,
          summary: 'List snippets',
          querystring: TemplatePageQuery,
          response: responses({ 200: PageOf(SnippetSchema) }),
        },
      },
      async (request) =>
        templates.listSnippets(principalOf(request).workspaceId, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );

    app.post(
      '/v1/snippets',
      {
        config: { scope: 'templates:write' },
        schema: {
          tags,
          summary: 'Create a snippet',
          description:
            "A partial that templates use with {% render 'name' %} or {% include 'name' %}. Template versions " +
            'keep the copy they were saved with. Snippets may include snippets, but a snippet whose includes ' +
            'lead back to itself is refused with 400 TEMPLATE_INVALID giving the cycle ("a -> b -> a") and ' +
            'the line and column of the include. Unknown snippets are allowed here and checked when a ' +
            'template using it is saved.',
          body: SnippetBody,
          response: responses({ 201: SnippetSchema }),
        },
      },
      async (request, reply) => {
        const snippet = await templates.createSnippet(principalOf(request).workspaceId, request.body);
        return reply.code(201).send(snippet);
      },
    );

    app.get(
      '/v1/snippets/:id',
      {
        config: { scope: 'templates:read' },
        schema: {
          tags,
          summary: 'Get a snippet',
          params: IdParams,
          response: responses({ 200: SnippetSchema }),
        },
      },
      async (request) => templates.getSnippet(principalOf(request).workspaceId, request.params.id),
    );

    app.put(
      '/v1/snippets/:id',
      {
        config: { scope: 'templates:write' },
        schema: {
          tags,
          summary: 'Replace a snippet',
          description:
            'Applies to template versions saved from now on; saved versions are unchanged. Include cycles are ' +
            'refused as on create. Renaming a snippet that an unfinished campaign uses is refused with 409 ' +
            'SNIPPET_IN_USE naming the campaigns.',
          params: IdParams,
          body: SnippetBody,
          response: responses({ 200: SnippetSchema }),
        },
      },
      async (request) =>
        templates.replaceSnippet(principalOf(request).workspaceId, request.params.id, request.body),
    );

    app.delete(
      '/v1/snippets/:id',
      {
        config: { scope: 'templates:write' },
        schema: {
          tags,
          summary: 'Delete a snippet',
          description:
            'Saved template versions keep their copy; new versions that use it are refused. Refused with 409 ' +
            "SNIPPET_IN_USE while an unfinished campaign's template (its pinned version, or a draft's latest " +
            'version) uses it, directly or through other snippets; the error names the campaigns.',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await templates.removeSnippet(principalOf(request).workspaceId, request.params.id);
        return reply.code(204).send(null);
      },
    );
  };
}
