import { Type } from 'typebox';
import { PageQuery, Timestamp } from '../../http/schemas.js';
import { SNIPPET_NAME_PATTERN } from './liquid-engine.js';

const MAX_SOURCE = 500_000;

export const TemplateKindSchema = Type.Union([Type.Literal('marketing'), Type.Literal('transactional')]);
export const TemplateFormatSchema = Type.Union([Type.Literal('html'), Type.Literal('mjml')], {
  description:
    'html: the body is HTML (its <style> rules are inlined). mjml: the body is MJML, compiled to HTML.',
});

const Name = Type.String({
  minLength: 1,
  maxLength: 200,
  description: 'Unique per workspace, regardless of case.',
});
const StrictVariables = Type.Boolean({
  description:
    'Preview fails on a variable the data does not have (the error names it and its position). Sending never fails on one.',
});

export const TemplateSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    kind: Type.Union([TemplateKindSchema, Type.Null()]),
    strict_variables: Type.Boolean(),
    latest_version: Type.Integer({ description: 'Number of the newest version.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'Template' },
);

export const TemplateVersionSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'What a campaign pins.' }),
    template_id: Type.String({ format: 'uuid' }),
    version: Type.Integer({ minimum: 1 }),
    format: TemplateFormatSchema,
    subject: Type.String(),
    preheader: Type.Union([Type.String(), Type.Null()]),
    body: Type.String(),
    text: Type.Union([Type.String(), Type.Null()], { description: 'The given text source, or null.' }),
    compiled_html: Type.String({
      description: 'Compiled at save time: MJML rendered, CSS inlined, Liquid kept.',
    }),
    compiled_text: Type.String({ description: 'The text source, or text generated from the HTML.' }),
    created_at: Timestamp,
  },
  { title: 'TemplateVersion' },
);

export const TemplateWithVersionSchema = Type.Object(
  { ...TemplateSchema.properties, version: TemplateVersionSchema },
  { title: 'TemplateWithLatestVersion' },
);

const versionFields = {
  format: TemplateFormatSchema,
  subject: Type.String({ minLength: 1, maxLength: 2000, description: 'Liquid, like the body.' }),
  preheader: Type.Optional(
    Type.Union([Type.String({ maxLength: 2000 }), Type.Null()], {
      description: 'Liquid; shown by mail clients next to the subject, hidden in the body.',
    }),
  ),
  body: Type.String({ minLength: 1, maxLength: MAX_SOURCE, description: 'HTML or MJML with Liquid.' }),
  text: Type.Optional(
    Type.Union([Type.String({ maxLength: MAX_SOURCE }), Type.Null()], {
      description: 'Liquid for the text part; when absent it is generated from the HTML.',
    }),
  ),
};

export const VersionCreateBody = Type.Object(versionFields, { additionalProperties: false });

export const TemplateCreateBody = Type.Object(
  {
    name: Name,
    kind: Type.Optional(Type.Union([TemplateKindSchema, Type.Null()])),
    strict_variables: Type.Optional(StrictVariables),
    ...versionFields,
  },
  { additionalProperties: false },
);

export const TemplatePatchBody = Type.Object(
  {
    name: Type.Optional(Name),
    kind: Type.Optional(Type.Union([TemplateKindSchema, Type.Null()])),
    strict_variables: Type.Optional(StrictVariables),
  },
  { additionalProperties: false },
);

export const TemplatePageQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });

export const VersionParams = Type.Object(
  { id: Type.String({ format: 'uuid' }), version: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);

export const PreviewBody = Type.Object(
  {
    version_id: Type.Optional(
      Type.String({ format: 'uuid', description: 'Defaults to the latest version.' }),
    ),
    contact_id: Type.Optional(
      Type.String({ format: 'uuid', description: 'Render for this stored contact.' }),
    ),
    contact: Type.Optional(
      Type.Object(
        {
          email: Type.Optional(Type.String({ maxLength: 320 })),
          external_id: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
          attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          tags: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 100 })),
          timezone: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
          locale: Type.Optional(Type.Union([Type.String({ maxLength: 35 }), Type.Null()])),
          status: Type.Optional(Type.String({ maxLength: 20 })),
        },
        { additionalProperties: false, description: 'Sample data, when no contact_id is given.' },
      ),
    ),
    strict: Type.Optional(Type.Boolean({ description: "Defaults to the template's strict_variables." })),
  },
  { additionalProperties: false },
);

export const RenderedSchema = Type.Object(
  { subject: Type.String(), preheader: Type.String(), html: Type.String(), text: Type.String() },
  { title: 'RenderedMessage' },
);

export const SnippetSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    source: Type.String(),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'Snippet' },
);

export const SnippetBody = Type.Object(
  {
    name: Type.String({
      pattern: SNIPPET_NAME_PATTERN,
      description: "Used as {% render 'name' %}; letters, digits, _ - and ., unique per workspace.",
    }),
    source: Type.String({ maxLength: MAX_SOURCE, description: 'HTML with Liquid (never MJML).' }),
  },
  { additionalProperties: false },
);
