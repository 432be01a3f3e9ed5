import type { AutomationStatus, Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, encodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { DomainError, type ErrorDetail } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import { checkAttributeTypes } from '../segments/index.js';
import {
  type AutomationDefinition,
  checkAutomationDefinition,
  definitionReferences,
  withDefaults,
} from './automation-definition.js';
import type { LoadedVersion } from './automation-engine.js';
import * as repo from './automations.repository.js';
import { exitActiveRuns } from './runs.repository.js';

export interface Automation {
  id: string;
  name: string;
  description: string | null;
  status: AutomationStatus;
  draft_definition: unknown;
  current_version: number | null;
  created_at: Date;
  updated_at: Date;
}

/** What publishing pinned for one send_email node. */
export interface ResolvedEmail {
  template_id: string;
  template_version_id: string;
  template_name: string;
}

export interface Resolved {
  emails: Record<string, ResolvedEmail>;
}

export interface AutomationVersion {
  id: string;
  automation_id: string;
  version: number;
  definition: AutomationDefinition;
  resolved: Resolved;
  published_at: Date;
}

export interface AutomationInput {
  name?: string | undefined;
  description?: string | null | undefined;
  definition?: unknown;
}

const DEFINITION_PATH = '/definition';

/** What the automations module needs of the attribute schema: names and types. */
export interface AttributeTypes {
  definitions(workspaceId: string, trx?: Db): Promise<ReadonlyMap<string, string>>;
  /** Attributes stored encrypted, whose values branch conditions cannot compare. */
  sensitiveNames?(workspaceId: string, trx?: Db): Promise<ReadonlySet<string>>;
}

/** Whether a value fits an attribute type of the schema (null clears any). */
function fitsType(type: string, value: unknown): boolean {
  if (value === null) return true;
  if (type === 'number') return typeof value === 'number';
  if (type === 'boolean') return typeof value === 'boolean';
  if (type === 'date') return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value);
  return typeof value === 'string';
}

/**
 * Attributes the definition uses whose type in the workspace's attribute
 * schema does not fit: date triggers and waits on a non-date attribute,
 * values that update_contact would have refused, branch conditions with an
 * operator or value the type does not take (as segments refuse them).
 */
function attributeErrors(
  definition: AutomationDefinition,
  types: ReadonlyMap<string, string>,
  sensitive: ReadonlySet<string> = new Set(),
): ErrorDetail[] {
  const errors: ErrorDetail[] = [];
  const dateAttribute = (name: string, path: string, what: string, node?: string) => {
    const type = types.get(name);
    if (type && type !== 'date')
      errors.push({
        path,
        ...(node ? { node } : {}),
        message: `${node ? `node "${node}": ` : ''}attribute "${name}" is a ${type} in the attribute schema; ${what} needs a date attribute`,
      });
  };
  const trigger = definition.trigger;
  if (trigger.type === 'date_attribute')
    dateAttribute(trigger.attribute, `${DEFINITION_PATH}/trigger/attribute`, 'a date_attribute trigger');
  definition.nodes.forEach((node, i) => {
    const at = `${DEFINITION_PATH}/nodes/${i}`;
    if (node.type === 'wait' && node.until_attribute)
      dateAttribute(
        node.until_attribute.attribute,
        `${at}/until_attribute/attribute`,
        'until_attribute',
        node.id,
      );
    if (node.type === 'update_contact' && node.set_attributes) {
      for (const [name, value] of Object.entries(node.set_attributes)) {
        const type = types.get(name);
        if (type && !fitsType(type, value))
          errors.push({
            path: `${at}/set_attributes/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`,
            node: node.id,
            message: `node "${node.id}": attribute "${name}" is a ${type} in the attribute schema; give a ${type} value (or null to clear it)`,
          });
      }
    }
    if (node.type === 'branch')
      node.branches.forEach((branch, j) => {
        for (const e of checkAttributeTypes(
          branch.condition,
          types,
          `${at}/branches/${j}/condition`,
          sensitive,
        ))
          errors.push({ ...e, node: node.id });
      });
  });
  return errors;
}

function invalid(errors: ErrorDetail[], what = 'The automation definition is invalid'): DomainError {
  const summary = errors
    .slice(0, 5)
    .map((e) => `${e.path || '/'}: ${e.message}`)
    .join('; ');
  return new DomainError(
    'AUTOMATION_INVALID',
    `${what}: ${summary}${errors.length > 5 ? `; and ${errors.length - 5} more` : ''}`,
    errors,
  );
}

function notFound(id: string): DomainError {
  return new DomainError('AUTOMATION_NOT_FOUND', `automation ${id} does not exist in this workspace`);
}

function stateError(row: repo.AutomationRow, action: string, fix: string): DomainError {
  return new DomainError(
    'AUTOMATION_STATE',
    `cannot ${action} automation "${row.name}": it is ${row.status}${row.current_version === null ? ' and was never published' : ''}; ${fix}`,
    [{ path: '/status', message: `status is ${row.status}`, status: row.status }],
  );
}

function checkName(raw: string): string {
  const name = raw.trim();
  if (name === '')
    throw new DomainError('VALIDATION_FAILED', 'name must not be blank', [
      { path: '/name', message: 'must not be blank' },
    ]);
  return name;
}

function structural(raw: unknown): AutomationDefinition {
  const result = checkAutomationDefinition(raw, DEFINITION_PATH);
  if (!result.ok) throw invalid(result.errors);
  return result.definition;
}

function toAutomation(row: repo.AutomationRow): Automation {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    status: row.status,
    draft_definition: row.draft_definition,
    current_version: row.current_version,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function toVersion(row: repo.AutomationVersionRow): AutomationVersion {
  return {
    id: row.id,
    automation_id: row.automation_id,
    version: row.version,
    definition: row.definition as AutomationDefinition,
    resolved: row.resolved as Resolved,
    published_at: row.published_at,
  };
}

/**
 * Checks what a structurally valid definition names against the workspace:
 * templates (by name or id, with their latest version), lists, segments and
 * campaigns. Returns the errors and, per send_email node, what it pins.
 */
async function resolveReferences(
  db: Db,
  attributes: AttributeTypes,
  workspaceId: string,
  definition: AutomationDefinition,
): Promise<{ errors: ErrorDetail[]; resolved: Resolved }> {
  const refs = definitionReferences(definition, DEFINITION_PATH);
  const errors: ErrorDetail[] = attributeErrors(
    definition,
    await attributes.definitions(workspaceId, db),
    await attributes.sensitiveNames?.(workspaceId, db),
  );
  const found = await repo.templates(
    db,
    workspaceId,
    refs.templates.flatMap((t) => (t.name !== undefined ? [t.name] : [])),
    refs.templates.flatMap((t) => (t.id !== undefined ? [t.id] : [])),
  );
  const emails: Record<string, ResolvedEmail> = {};
  for (const ref of refs.templates) {
    const template = found.find((t) =>
      ref.id !== undefined ? t.id === ref.id : t.name.toLowerCase() === ref.name?.toLowerCase(),
    );
    if (!template?.version_id) {
      errors.push({
        path: ref.path,
        node: ref.node,
        message:
          ref.id !== undefined
            ? `node "${ref.node}": template ${ref.id} does not exist in this workspace; use the id of a template (GET /v1/templates) or its name in "template"`
            : `node "${ref.node}": no template named "${ref.name}" in this workspace; create it (POST /v1/templates) or correct the name`,
      });
      continue;
    }
    emails[ref.node] = {
      template_id: template.id,
      template_version_id: template.version_id,
      template_name: template.name,
    };
  }
  if (definition.nodes.some((n) => n.type === 'send_email') && !definition.sender)
    errors.push({
      path: `${DEFINITION_PATH}/sender`,
      message:
        'the automation sends email but has no sender: add "sender": {"from_email": "news@shop.example"} (from_name, reply_to and transport_id are optional)',
    });
  for (const table of ['lists', 'segments', 'campaigns', 'transports'] as const) {
    const what = table.slice(0, -1);
    const existing = await repo.existingIds(
      db,
      workspaceId,
      table,
      refs[table].map((r) => r.id),
    );
    for (const ref of refs[table]) {
      if (existing.has(ref.id)) continue;
      errors.push({
        path: ref.path,
        ...(ref.node ? { node: ref.node } : {}),
        message: `${ref.node ? `node "${ref.node}": ` : ''}${what} ${ref.id} does not exist in this workspace`,
      });
    }
  }
  return { errors, resolved: { emails } };
}

export function createAutomationService(deps: { db: Db; clock: Clock; attributes: AttributeTypes }) {
  const { db, clock, attributes } = deps;

  async function mustFind(trx: Db, workspaceId: string, id: string, lock = false) {
    const row = await repo.findAutomation(trx, workspaceId, id, lock);
    if (!row) throw notFound(id);
    return row;
  }

  async function nameTaken(trx: Db, workspaceId: string, name: string): Promise<DomainError> {
    const other = await repo.findAutomationByName(trx, workspaceId, name);
    return exists(name, other);
  }

  function exists(name: string, other?: { id: string; name: string }): DomainError {
    return new DomainError(
      'AUTOMATION_EXISTS',
      `an automation named "${other?.name ?? name}" already exists${other ? ` (id ${other.id})` : ''}; choose another name`,
      [{ path: '/name', message: 'already used by another automation' }],
    );
  }

  /** Changes status under a lock on the row, when `allowed` says the move is possible. */
  async function transition(
    workspaceId: string,
    id: string,
    action: string,
    to: AutomationStatus,
    allowed: (row: repo.AutomationRow) => string | undefined,
    alongside?: (trx: Db) => Promise<void>,
  ): Promise<Automation> {
    return db.transaction().execute(async (trx) => {
      const row = await mustFind(trx, workspaceId, id, true);
      const refusal = allowed(row);
      if (refusal) throw stateError(row, action, refusal);
      const result = await repo.updateAutomation(trx, workspaceId, id, {
        status: to,
        updated_at: clock.now(),
      });
      if (alongside) await alongside(trx);
      return toAutomation(('row' in result && result.row) || row);
    });
  }

  return {
    /** Saves a new draft; the definition must be structurally valid (references are checked at publish). */
    async create(
      workspaceId: string,
      input: { name: string; description?: string | null | undefined; definition: unknown },
    ): Promise<Automation> {
      const name = checkName(input.name);
      const definition = structural(input.definition);
      const now = clock.now();
      const row = await repo.insertAutomation(db, {
        id: uuidv7(now.getTime()),
        workspace_id: workspaceId,
        name,
        description: input.description ?? null,
        status: 'draft',
        draft_definition: JSON.stringify(definition),
        current_version: null,
        created_at: now,
        updated_at: now,
      });
      if (!row) throw await nameTaken(db, workspaceId, name);
      return toAutomation(row);
    },

    async get(workspaceId: string, id: string): Promise<Automation> {
      return toAutomation(await mustFind(db, workspaceId, id));
    },

    async list(
      workspaceId: string,
      options: { cursor?: string | undefined; limit: number; status?: AutomationStatus | undefined },
    ): Promise<Page<Automation>> {
      const rows = await repo.listAutomations(db, workspaceId, {
        after: decodeCursor(options.cursor),
        limit: options.limit,
        status: options.status,
      });
      const page = toPage(rows, options.limit);
      return { data: page.data.map(toAutomation), next_cursor: page.next_cursor };
    },

    /** Changes name, description or the draft. A published version never changes: publish again to use the draft. */
    async update(workspaceId: string, id: string, input: AutomationInput): Promise<Automation> {
      const changes: Parameters<typeof repo.updateAutomation>[3] = { updated_at: clock.now() };
      if (input.name !== undefined) changes.name = checkName(input.name);
      if (input.description !== undefined) changes.description = input.description;
      if (input.definition !== undefined)
        changes.draft_definition = JSON.stringify(structural(input.definition));
      return db.transaction().execute(async (trx) => {
        const row = await mustFind(trx, workspaceId, id, true);
        if (row.status === 'archived')
          throw stateError(row, 'change', 'archived automations are kept as they were; create a new one');
        if (changes.name !== undefined) {
          const other = await repo.findAutomationByName(trx, workspaceId, changes.name);
          if (other && other.id !== id) throw exists(changes.name, other);
        }
        const result = await repo.updateAutomation(trx, workspaceId, id, changes);
        // A concurrent rename got there first; the failed statement ended the transaction, so no lookup.
        if ('nameTaken' in result) throw exists(changes.name ?? '');
        return toAutomation(result.row ?? row);
      });
    },

    /**
     * Checks the draft fully (structure and references) and saves it as the
     * next version, pinning each email's template version, so contacts already
     * inside keep the content they entered with. A draft becomes active; a
     * paused automation stays paused.
     */
    async publish(workspaceId: string, id: string): Promise<AutomationVersion> {
      return db.transaction().execute(async (trx) => {
        const row = await mustFind(trx, workspaceId, id, true);
        if (row.status === 'archived')
          throw stateError(row, 'publish', 'archived automations are kept as they were; create a new one');
        const definition = structural(row.draft_definition);
        const { errors, resolved } = await resolveReferences(trx, attributes, workspaceId, definition);
        if (errors.length > 0) throw invalid(errors, 'The draft cannot be published');
        const now = clock.now();
        const version = (row.current_version ?? 0) + 1;
        const saved = await repo.insertVersion(trx, {
          id: uuidv7(now.getTime()),
          automation_id: id,
          workspace_id: workspaceId,
          version,
          definition: JSON.stringify(withDefaults(definition)),
          resolved: JSON.stringify(resolved),
          published_at: now,
        });
        await repo.updateAutomation(trx, workspaceId, id, {
          current_version: version,
          status: row.status === 'paused' ? 'paused' : 'active',
          updated_at: now,
        });
        return toVersion(saved);
      });
    },

    async pause(workspaceId: string, id: string): Promise<Automation> {
      return transition(workspaceId, id, 'pause', 'paused', (row) =>
        row.status === 'active'
          ? undefined
          : row.status === 'paused'
            ? 'it is already paused; resume it with POST /v1/automations/{id}/resume'
            : row.status === 'draft'
              ? 'publish it first (POST /v1/automations/{id}/publish)'
              : 'archived automations cannot be paused or resumed',
      );
    },

    async resume(workspaceId: string, id: string): Promise<Automation> {
      return transition(workspaceId, id, 'resume', 'active', (row) =>
        row.status === 'paused'
          ? undefined
          : row.status === 'active'
            ? 'it is already active'
            : row.status === 'draft'
              ? 'publish it first (POST /v1/automations/{id}/publish)'
              : 'archived automations cannot be paused or resumed',
      );
    },

    /** Stops it for good (the engine will enrol nobody and end the runs inside); versions stay readable. */
    async archive(workspaceId: string, id: string): Promise<Automation> {
      return transition(
        workspaceId,
        id,
        'archive',
        'archived',
        (row) => (row.status === 'archived' ? 'it is already archived' : undefined),
        // In the same transaction: no run advances after its automation is archived.
        (trx) => exitActiveRuns(trx, workspaceId, id, 'archived', clock.now()).then(() => undefined),
      );
    },

    /** Only an automation never published: a published one may have had contacts inside, so it is archived instead. */
    async remove(workspaceId: string, id: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const row = await mustFind(trx, workspaceId, id, true);
        if (row.current_version !== null) {
          throw new DomainError(
            'AUTOMATION_STATE',
            `cannot delete automation "${row.name}": it was published (version ${row.current_version}), and its versions are kept for the contacts that went through them; archive it instead (POST /v1/automations/${id}/archive)`,
            [{ path: '/id', message: `published, version ${row.current_version}` }],
          );
        }
        await repo.deleteAutomation(trx, workspaceId, id);
      });
    },

    async versions(
      workspaceId: string,
      id: string,
      options: { cursor?: string | undefined; limit: number },
    ): Promise<Page<AutomationVersion>> {
      const after = decodeCursor(options.cursor, (v) => /^\d{1,9}$/.test(v));
      await mustFind(db, workspaceId, id);
      const rows = await repo.listVersions(db, workspaceId, id, {
        afterVersion: after === undefined ? undefined : Number(after),
        limit: options.limit,
      });
      const data = rows.slice(0, options.limit).map(toVersion);
      const last = data[data.length - 1];
      return {
        data,
        next_cursor: rows.length > options.limit && last ? encodeCursor(String(last.version)) : null,
      };
    },

    async version(workspaceId: string, id: string, version: number): Promise<AutomationVersion> {
      await mustFind(db, workspaceId, id);
      const row = await repo.findVersion(db, workspaceId, id, version);
      if (!row) {
        throw new DomainError(
          'AUTOMATION_VERSION_NOT_FOUND',
          `automation ${id} has no version ${version}; list its versions with GET /v1/automations/${id}/versions`,
        );
      }
      return toVersion(row);
    },

    /**
     * What a simulation runs: a published version (default the current one),
     * or the draft, checked and resolved as publishing would (a draft that
     * would not publish cannot be simulated: 422 with what to fix).
     */
    async simulationSubject(
      workspaceId: string,
      id: string,
      which: number | 'draft' | undefined,
    ): Promise<{ automationId: string; version: number | 'draft'; loaded: LoadedVersion }> {
      const row = await mustFind(db, workspaceId, id);
      const loaded = (definition: AutomationDefinition, resolved: Resolved): LoadedVersion => ({
        name: row.name,
        definition,
        resolved,
        nodes: new Map(definition.nodes.map((n) => [n.id, n])),
      });
      if (which === 'draft') {
        const definition = structural(row.draft_definition);
        const { errors, resolved } = await resolveReferences(db, attributes, workspaceId, definition);
        if (errors.length > 0) throw invalid(errors, 'The draft cannot be simulated');
        return { automationId: id, version: 'draft', loaded: loaded(withDefaults(definition), resolved) };
      }
      const number = which ?? row.current_version;
      if (number === null)
        throw stateError(row, 'simulate', 'publish it first, or simulate the draft ("version": "draft")');
      const found = await repo.findVersion(db, workspaceId, id, number);
      if (!found)
        throw new DomainError(
          'AUTOMATION_VERSION_NOT_FOUND',
          `automation ${id} has no version ${number}; list its versions with GET /v1/automations/${id}/versions`,
          [{ path: '/version', message: 'no such version' }],
        );
      const version = toVersion(found);
      return { automationId: id, version: number, loaded: loaded(version.definition, version.resolved) };
    },

    /** Everything publish would check, without saving: for editors. */
    async validate(workspaceId: string, raw: unknown): Promise<{ valid: boolean; errors: ErrorDetail[] }> {
      const result = checkAutomationDefinition(raw, DEFINITION_PATH);
      if (!result.ok) return { valid: false, errors: result.errors };
      const { errors } = await resolveReferences(db, attributes, workspaceId, result.definition);
      return { valid: errors.length === 0, errors };
    },
  };
}

export type AutomationService = ReturnType<typeof createAutomationService>;
