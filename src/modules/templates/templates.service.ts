import type { Db, TemplateFormat, TemplateKind } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { DomainError, type ErrorDetail } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import type { ContactService } from '../contacts/index.js';
import type { WorkspaceService } from '../workspaces/index.js';
import { createLiquidEngine, describeLiquidError, SNIPPET_NAME_PATTERN } from './liquid-engine.js';
import { withPostalAddress } from './postal-footer.js';
import { walkSnippets } from './snippet-graph.js';
import type {
  CompiledArtefacts,
  PreparedTemplate,
  RenderContext,
  RenderedMessage,
  TemplateCompiler,
} from './template-compiler.js';
import * as repo from './templates.repository.js';

export interface Template {
  id: string;
  name: string;
  kind: TemplateKind | null;
  strict_variables: boolean;
  latest_version: number;
  created_at: Date;
  updated_at: Date;
}

export interface TemplateVersion {
  id: string;
  template_id: string;
  version: number;
  format: TemplateFormat;
  subject: string;
  preheader: string | null;
  body: string;
  text: string | null;
  compiled_html: string;
  compiled_text: string;
  created_at: Date;
}

export interface TemplateWithVersion extends Template {
  version: TemplateVersion;
}

export interface VersionInput {
  format: TemplateFormat;
  subject: string;
  preheader?: string | null | undefined;
  body: string;
  text?: string | null | undefined;
}

export interface TemplateInput extends VersionInput {
  name: string;
  kind?: TemplateKind | null | undefined;
  strict_variables?: boolean | undefined;
}

export interface TemplatePatch {
  name?: string | undefined;
  kind?: TemplateKind | null | undefined;
  strict_variables?: boolean | undefined;
}

export interface SampleContact {
  email?: string | undefined;
  external_id?: string | null | undefined;
  attributes?: Record<string, unknown> | undefined;
  tags?: string[] | undefined;
  timezone?: string | null | undefined;
  locale?: string | null | undefined;
  status?: string | undefined;
}

export interface PreviewInput {
  version_id?: string | undefined;
  contact_id?: string | undefined;
  contact?: SampleContact | undefined;
  strict?: boolean | undefined;
}

export interface Snippet {
  id: string;
  name: string;
  source: string;
  created_at: Date;
  updated_at: Date;
}

/** What preview substitutes for the links other modules sign when sending. */
export const PREVIEW_URLS = {
  unsubscribe_url: 'https://example.invalid/unsubscribe',
  preferences_url: 'https://example.invalid/preferences',
  view_in_browser_url: 'https://example.invalid/view',
} as const;

export interface TemplateServiceDeps {
  db: Db;
  clock: Clock;
  compiler: TemplateCompiler;
  contacts: ContactService;
  workspaces: WorkspaceService;
}

export function createTemplateService(deps: TemplateServiceDeps) {
  const { db, clock, compiler, contacts, workspaces } = deps;

  async function requireTemplate(workspaceId: string, id: string, trx: Db = db, lock = false) {
    const row = await repo.findTemplate(trx, workspaceId, id, lock);
    if (!row) throw templateNotFound(id);
    return row;
  }

  async function requireVersion(workspaceId: string, versionId: string) {
    const row = await repo.findVersionById(db, workspaceId, versionId);
    if (!row) {
      throw new DomainError(
        'TEMPLATE_VERSION_NOT_FOUND',
        `template version ${versionId} does not exist in this workspace`,
      );
    }
    return row;
  }

  /** Compiles outside any transaction: MJML takes tens of milliseconds and must not hold row locks. */
  async function compile(workspaceId: string, input: VersionInput) {
    const source = {
      format: input.format,
      subject: input.subject,
      preheader: blankToNull(input.preheader),
      body: input.body,
      text_body: blankToNull(input.text),
    };
    const artefacts = await compiler.compile(source, await repo.snippetSources(db, workspaceId));
    return { source, artefacts };
  }

  async function addVersion(
    trx: Db,
    template: repo.TemplateRow,
    compiled: Awaited<ReturnType<typeof compile>>,
    now: Date,
  ): Promise<repo.TemplateVersionRow> {
    const version = template.latest_version + 1;
    const row = await repo.insertVersion(trx, {
      id: uuidv7(now.getTime()),
      workspace_id: template.workspace_id,
      template_id: template.id,
      version,
      ...compiled.source,
      compiled_html: compiled.artefacts.html,
      compiled_text: compiled.artefacts.text,
      snippets: JSON.stringify(compiled.artefacts.snippets),
      created_at: now,
    });
    await repo.updateTemplate(trx, template.workspace_id, template.id, { latest_version: version }, now);
    return row;
  }

  async function templateNameTaken(workspaceId: string, name: string): Promise<DomainError> {
    const other = await repo.findTemplateByName(db, workspaceId, name);
    return new DomainError(
      'TEMPLATE_EXISTS',
      `a template named "${other?.name ?? name}" already exists${other ? ` (id ${other.id})` : ''}; names are unique regardless of case, choose another name`,
      [
        {
          path: '/name',
          message: 'already used by another template',
          ...(other ? { template_id: other.id } : {}),
        },
      ],
    );
  }

  async function snippetNameTaken(workspaceId: string, name: string): Promise<DomainError> {
    const other = await repo.findSnippetByName(db, workspaceId, name);
    return new DomainError(
      'SNIPPET_EXISTS',
      `a snippet named "${name}" already exists${other ? ` (id ${other.id})` : ''}; choose another name or change that snippet`,
      [{ path: '/name', message: 'already used by another snippet' }],
    );
  }

  async function refuseIfSnippetUsed(
    trx: Db,
    workspaceId: string,
    snippet: repo.SnippetRow,
    action: 'delete' | 'rename',
  ): Promise<void> {
    const users = await repo.unfinishedCampaignsUsingSnippet(trx, workspaceId, snippet.name, USES_LISTED + 1);
    if (users.length === 0) return;
    throw inUse(
      'SNIPPET_IN_USE',
      `snippet "${snippet.name}" (${snippet.id})`,
      users,
      `save a version of their templates without it, or cancel them, then ${action} it`,
      action,
    );
  }

  /** Refuses a snippet whose includes lead back to itself, with the cycle's path and the include's line and column. */
  async function checkIncludes(
    workspaceId: string,
    input: { name: string; source: string },
    previousName?: string,
  ): Promise<void> {
    const available = new Map(await repo.snippetSources(db, workspaceId));
    if (previousName !== undefined) available.delete(previousName);
    available.set(input.name, input.source);
    const { errors } = walkSnippets([{ field: 'source', source: input.source }], available, {
      self: input.name,
      reportUnknown: false,
    });
    if (errors.length > 0) {
      throw new DomainError(
        'TEMPLATE_INVALID',
        `the snippet is invalid: ${errors.map((e) => e.message).join('; ')}`,
        errors,
      );
    }
  }

  async function contextFor(workspaceId: string, input: PreviewInput): Promise<RenderContext> {
    const workspace = await workspaces.get(workspaceId);
    const base = {
      workspace: { name: workspace.name, postal_address: workspace.postal_address },
      campaign: { id: '00000000-0000-7000-8000-000000000000', name: 'Preview' },
      ...PREVIEW_URLS,
    };
    if (input.contact_id) {
      const c = await contacts.get(workspaceId, input.contact_id);
      return {
        ...base,
        contact: {
          id: c.id,
          email: c.email,
          external_id: c.external_id,
          attributes: c.attributes,
          tags: c.tags,
          timezone: c.timezone,
          locale: c.locale,
          status: c.status,
        },
        lists: c.lists.map((l) => ({ id: l.list_id, name: l.list_name, status: l.status })),
      };
    }
    const sample = input.contact ?? {};
    return {
      ...base,
      contact: {
        email: sample.email ?? 'jane.doe@example.com',
        external_id: sample.external_id ?? null,
        attributes: sample.attributes ?? {},
        tags: sample.tags ?? [],
        timezone: sample.timezone ?? null,
        locale: sample.locale ?? null,
        status: sample.status ?? 'active',
      },
      lists: [],
    };
  }

  return {
    async list(
      workspaceId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<Template>> {
      const rows = await repo.listTemplates(db, workspaceId, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      return toPage(rows.map(toTemplate), page.limit);
    },

    async create(workspaceId: string, input: TemplateInput): Promise<TemplateWithVersion> {
      const name = checkName(input.name, 'template');
      const compiled = await compile(workspaceId, input);
      const now = clock.now();
      return db.transaction().execute(async (trx) => {
        const row = await repo.insertTemplate(trx, {
          id: uuidv7(now.getTime()),
          workspace_id: workspaceId,
          name,
          kind: input.kind ?? null,
          strict_variables: input.strict_variables ?? false,
          latest_version: 0,
          created_at: now,
          updated_at: now,
        });
        if (!row) throw await templateNameTaken(workspaceId, name);
        const version = await addVersion(trx, row, compiled, now);
        return { ...toTemplate({ ...row, latest_version: version.version }), version: toVersion(version) };
      });
    },

    async get(workspaceId: string, id: string): Promise<TemplateWithVersion> {
      const row = await requireTemplate(workspaceId, id);
      const version = await repo.findVersionByNumber(db, workspaceId, id, row.latest_version);
      if (!version) throw new Error(`template ${id} has no version ${row.latest_version}`);
      return { ...toTemplate(row), version: toVersion(version) };
    },

    async update(workspaceId: string, id: string, patch: TemplatePatch): Promise<Template> {
      const changes: Parameters<typeof repo.updateTemplate>[3] = {};
      if (patch.name !== undefined) changes.name = checkName(patch.name, 'template');
      if (patch.kind !== undefined) changes.kind = patch.kind;
      if (patch.strict_variables !== undefined) changes.strict_variables = patch.strict_variables;
      const result = await repo.updateTemplate(db, workspaceId, id, changes, clock.now());
      if ('nameTaken' in result) throw await templateNameTaken(workspaceId, changes.name ?? '');
      if (!result.row) throw templateNotFound(id);
      return toTemplate(result.row);
    },

    /**
     * Deletes a template unless an unfinished campaign or an automation not
     * archived still uses it (409 TEMPLATE_IN_USE naming them). Deleting
     * archives it: it is gone from the API and its name is free, while its
     * versions stay for what pinned them.
     */
    async remove(workspaceId: string, id: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const template = await requireTemplate(workspaceId, id, trx, true);
        const users = await repo.unfinishedCampaignsUsingTemplate(trx, workspaceId, id, USES_LISTED + 1);
        if (users.length > 0) {
          throw inUse(
            'TEMPLATE_IN_USE',
            `template "${template.name}" (${id})`,
            users,
            'choose another template for them (PATCH /v1/campaigns/{id}) or cancel them, then delete it',
          );
        }
        const automations = await repo.automationsUsingTemplate(trx, workspaceId, template, USES_LISTED + 1);
        if (automations.length > 0) {
          const listed = automations.slice(0, USES_LISTED);
          throw new DomainError(
            'TEMPLATE_IN_USE',
            `cannot delete template "${template.name}" (${id}): automations use it in their draft or current version: ${listed.map((a) => `"${a.name}" (${a.id}, ${a.status})`).join(', ')}${automations.length > USES_LISTED ? ' and more' : ''}; change their drafts and publish them again, or archive them, then delete it`,
            listed.map((a) => ({
              path: '/id',
              automation_id: a.id,
              automation_name: a.name,
              automation_status: a.status,
              message: `used by ${a.status} automation "${a.name}" (${a.id})`,
            })),
          );
        }
        await repo.archiveTemplate(trx, workspaceId, id, clock.now());
      });
    },

    /**
     * Validates and compiles inline content (a transactional message's
     * subject, html and text) like a template version, with the workspace's
     * snippets; the result carries the snippets it used.
     */
    async compileInline(
      workspaceId: string,
      source: { subject: string; html: string | null; text: string | null },
    ): Promise<CompiledArtefacts> {
      return compiler.compile(
        {
          format: 'html',
          subject: source.subject,
          preheader: null,
          body: source.html ?? '',
          text_body: source.text,
        },
        await repo.snippetSources(db, workspaceId),
      );
    },

    /** Saves a change as the next version; earlier versions stay as they were. */
    async createVersion(
      workspaceId: string,
      templateId: string,
      input: VersionInput,
    ): Promise<TemplateVersion> {
      await requireTemplate(workspaceId, templateId);
      const compiled = await compile(workspaceId, input);
      const now = clock.now();
      return db.transaction().execute(async (trx) => {
        const template = await requireTemplate(workspaceId, templateId, trx, true);
        return toVersion(await addVersion(trx, template, compiled, now));
      });
    },

    async versions(
      workspaceId: string,
      templateId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<TemplateVersion>> {
      const after = decodeCursor(page.cursor);
      await requireTemplate(workspaceId, templateId);
      const rows = await repo.listVersions(db, workspaceId, templateId, {
        after,
        limit: page.limit,
      });
      return toPage(rows.map(toVersion), page.limit);
    },

    async versionByNumber(
      workspaceId: string,
      templateId: string,
      version: number,
    ): Promise<TemplateVersion> {
      await requireTemplate(workspaceId, templateId);
      const row = await repo.findVersionByNumber(db, workspaceId, templateId, version);
      if (!row) {
        throw new DomainError(
          'TEMPLATE_VERSION_NOT_FOUND',
          `template ${templateId} has no version ${version}; list its versions with GET /v1/templates/${templateId}/versions`,
        );
      }
      return toVersion(row);
    },

    /** A version by id, as a campaign pins it. */
    async getVersion(workspaceId: string, versionId: string): Promise<TemplateVersion> {
      return toVersion(await requireVersion(workspaceId, versionId));
    },

    /** The snippet sources a version was saved with (name -> source), as it renders them. */
    async versionSnippets(workspaceId: string, versionId: string): Promise<Record<string, string>> {
      return (await requireVersion(workspaceId, versionId)).snippets ?? {};
    },

    /** Liquid syntax errors in standalone fields (campaign subject and preheader overrides). */
    checkLiquid(fields: Record<string, string>): ErrorDetail[] {
      return compiler.checkFields(fields);
    },

    async latestVersionId(workspaceId: string, templateId: string): Promise<string | undefined> {
      const template = await repo.findTemplate(db, workspaceId, templateId);
      if (!template) return undefined;
      return (await repo.findVersionByNumber(db, workspaceId, templateId, template.latest_version))?.id;
    },

    /**
     * Parses a stored version's Liquid once for sending: render() then does
     * per-recipient Liquid only. Unknown variables render empty (a send must
     * not fail on one contact's missing attribute); unknown filters still fail.
     */
    async compileForSend(
      workspaceId: string,
      versionId: string,
      options: {
        strictVariables?: boolean;
        subject?: string | null;
        preheader?: string | null;
        /** Marketing email: the workspace's postal address, added as a footer where the version does not show it. */
        postalAddress?: string | null;
      } = {},
    ): Promise<PreparedTemplate> {
      const row = await requireVersion(workspaceId, versionId);
      // A campaign may replace the version's subject and preheader (both Liquid).
      const version = {
        ...row,
        ...(options.subject ? { subject: options.subject } : {}),
        ...(options.preheader ? { preheader: options.preheader } : {}),
        ...withPostalAddress(row, options.postalAddress),
      };
      return compiler.prepare(version, { strictVariables: options.strictVariables ?? false });
    },

    async preview(workspaceId: string, templateId: string, input: PreviewInput): Promise<RenderedMessage> {
      const template = await requireTemplate(workspaceId, templateId);
      const version = input.version_id
        ? await requireVersion(workspaceId, input.version_id)
        : await repo.findVersionByNumber(db, workspaceId, templateId, template.latest_version);
      if (!version || version.template_id !== templateId) {
        throw new DomainError(
          'TEMPLATE_VERSION_NOT_FOUND',
          `version ${input.version_id} is not a version of template ${templateId}`,
          [{ path: '/version_id', message: 'not a version of this template' }],
        );
      }
      if (input.contact_id && input.contact) {
        throw new DomainError('VALIDATION_FAILED', 'give contact_id or contact, not both', [
          { path: '/contact', message: 'not allowed together with contact_id' },
        ]);
      }
      const context = await contextFor(workspaceId, input);
      const prepared = compiler.prepare(version, {
        strictVariables: input.strict ?? template.strict_variables,
      });
      return prepared.render(context);
    },

    async listSnippets(
      workspaceId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<Snippet>> {
      const rows = await repo.listSnippets(db, workspaceId, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      return toPage(rows.map(toSnippet), page.limit);
    },

    async getSnippet(workspaceId: string, id: string): Promise<Snippet> {
      const row = await repo.findSnippet(db, workspaceId, id);
      if (!row) throw snippetNotFound(id);
      return toSnippet(row);
    },

    async createSnippet(workspaceId: string, input: { name: string; source: string }): Promise<Snippet> {
      checkSnippet(input);
      // A clash is the first thing to report: the includes would be checked against the other snippet.
      if (await repo.findSnippetByName(db, workspaceId, input.name)) {
        throw await snippetNameTaken(workspaceId, input.name);
      }
      await checkIncludes(workspaceId, input);
      const now = clock.now();
      const row = await repo.insertSnippet(db, {
        id: uuidv7(now.getTime()),
        workspace_id: workspaceId,
        name: input.name,
        source: input.source,
        created_at: now,
        updated_at: now,
      });
      if (!row) throw await snippetNameTaken(workspaceId, input.name);
      return toSnippet(row);
    },

    /** Changes a snippet for versions saved from now on; saved versions keep the copy they were compiled with. */
    async replaceSnippet(
      workspaceId: string,
      id: string,
      input: { name: string; source: string },
    ): Promise<Snippet> {
      checkSnippet(input);
      const before = await repo.findSnippet(db, workspaceId, id);
      if (!before) throw snippetNotFound(id);
      if (before.name !== input.name && (await repo.findSnippetByName(db, workspaceId, input.name))) {
        throw await snippetNameTaken(workspaceId, input.name);
      }
      await checkIncludes(workspaceId, input, before.name);
      const nameTaken = new Error('snippet name taken');
      const row = await db
        .transaction()
        .execute(async (trx) => {
          const current = await repo.findSnippet(trx, workspaceId, id, true);
          if (!current) throw snippetNotFound(id);
          // A rename breaks the campaigns' templates the same way a delete does.
          if (current.name !== input.name) await refuseIfSnippetUsed(trx, workspaceId, current, 'rename');
          const result = await repo.updateSnippet(trx, workspaceId, id, input, clock.now());
          // Thrown so the failed statement's transaction rolls back; the name's owner is looked up after.
          if ('nameTaken' in result) throw nameTaken;
          return result.row;
        })
        .catch(async (error: unknown) => {
          if (error === nameTaken) throw await snippetNameTaken(workspaceId, input.name);
          throw error;
        });
      if (!row) throw snippetNotFound(id);
      return toSnippet(row);
    },

    /** Deletes a snippet unless an unfinished campaign's template uses it (409 SNIPPET_IN_USE naming them). */
    async removeSnippet(workspaceId: string, id: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const snippet = await repo.findSnippet(trx, workspaceId, id, true);
        if (!snippet) throw snippetNotFound(id);
        await refuseIfSnippetUsed(trx, workspaceId, snippet, 'delete');
        await repo.deleteSnippet(trx, workspaceId, id);
      });
    },
  };
}

export type TemplateService = ReturnType<typeof createTemplateService>;

const snippetName = new RegExp(SNIPPET_NAME_PATTERN);

function checkSnippet(input: { name: string; source: string }): void {
  if (!snippetName.test(input.name)) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `snippet name "${input.name}" is not allowed: use letters, digits, "_", "-" and ".", starting with a letter or digit (at most 100)`,
      [{ path: '/name', message: 'letters, digits, "_", "-" and "." only' }],
    );
  }
  try {
    // Only the syntax is checked here: the snippets it includes are resolved when a template using it is saved.
    createLiquidEngine({ snippets: new Map(), strictVariables: false, escapeHtml: true }).parse(input.source);
  } catch (error) {
    const detail = describeLiquidError(error, 'source');
    throw new DomainError('TEMPLATE_INVALID', `the snippet is invalid: ${detail.message}`, [detail]);
  }
}

/** How many users an in-use error names; more are counted, not listed. */
const USES_LISTED = 20;

function inUse(
  code: 'TEMPLATE_IN_USE' | 'SNIPPET_IN_USE',
  what: string,
  users: repo.CampaignUse[],
  fix: string,
  action: 'delete' | 'rename' = 'delete',
): DomainError {
  const listed = users.slice(0, USES_LISTED);
  const names = listed.map((c) => `"${c.name}" (${c.id}, ${c.status})`).join(', ');
  const more = users.length > USES_LISTED ? ` and more` : '';
  return new DomainError(
    code,
    `cannot ${action} ${what}: unfinished campaigns use it: ${names}${more}; ${fix}`,
    listed.map((c) => ({
      path: '/id',
      campaign_id: c.id,
      campaign_name: c.name,
      campaign_status: c.status,
      message: `used by ${c.status} campaign "${c.name}" (${c.id})`,
    })),
  );
}

function checkName(raw: string, what: string): string {
  const name = raw.trim();
  if (name === '') {
    throw new DomainError('VALIDATION_FAILED', `name is blank: give the ${what} a name`, [
      { path: '/name', message: 'must not be blank' },
    ]);
  }
  return name;
}

function blankToNull(value: string | null | undefined): string | null {
  return value === undefined || value === null || value === '' ? null : value;
}

function templateNotFound(id: string): DomainError {
  return new DomainError('TEMPLATE_NOT_FOUND', `template ${id} does not exist in this workspace`);
}

function snippetNotFound(id: string): DomainError {
  return new DomainError('SNIPPET_NOT_FOUND', `snippet ${id} does not exist in this workspace`);
}

function toTemplate(row: repo.TemplateRow): Template {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    strict_variables: row.strict_variables,
    latest_version: row.latest_version,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function toVersion(row: repo.TemplateVersionRow): TemplateVersion {
  return {
    id: row.id,
    template_id: row.template_id,
    version: row.version,
    format: row.format,
    subject: row.subject,
    preheader: row.preheader,
    body: row.body,
    text: row.text_body,
    compiled_html: row.compiled_html,
    compiled_text: row.compiled_text,
    created_at: row.created_at,
  };
}

function toSnippet(row: repo.SnippetRow): Snippet {
  return {
    id: row.id,
    name: row.name,
    source: row.source,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}
