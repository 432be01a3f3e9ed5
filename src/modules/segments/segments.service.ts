import type { ContactStatus, Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { DomainError, type ErrorDetail } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import { type CompiledSegment, compileSegment } from './segment-compiler.js';
import {
  type Condition,
  checkAttributeTypes,
  checkDefinition,
  countSubqueries,
  LIMITS,
  references,
} from './segment-definition.js';
import * as repo from './segments.repository.js';

export interface Segment {
  id: string;
  name: string;
  description: string | null;
  definition: Condition;
  /** Members as of the last membership check (the segment itself is always evaluated live). */
  recorded_members: { count: number; checked_at: Date | null };
  created_at: Date;
  updated_at: Date;
}

export interface SegmentInput {
  name?: string | undefined;
  description?: string | null | undefined;
  definition?: unknown;
}

export interface SegmentContact {
  id: string;
  email: string;
  external_id: string | null;
  status: ContactStatus;
  created_at: Date;
}

/** What the segments module needs of the attribute schema: names and types. */
export interface AttributeTypes {
  definitions(workspaceId: string, trx?: Db): Promise<ReadonlyMap<string, string>>;
  /** Attributes stored encrypted, whose values conditions cannot compare. */
  sensitiveNames?(workspaceId: string, trx?: Db): Promise<ReadonlySet<string>>;
}

const DEFINITION_PATH = '/definition';

function invalid(errors: ErrorDetail[]): DomainError {
  const summary = errors
    .slice(0, 5)
    .map((e) => `${e.path || '/'}: ${e.message}`)
    .join('; ');
  return new DomainError(
    'SEGMENT_INVALID',
    `The segment definition is invalid: ${summary}${errors.length > 5 ? `; and ${errors.length - 5} more` : ''}`,
    errors,
  );
}

function notFound(id: string): DomainError {
  return new DomainError('SEGMENT_NOT_FOUND', `segment ${id} does not exist in this workspace`);
}

/**
 * Loads the definitions a definition names, transitively, refusing unknown
 * segments and cycles with the JSON pointer of the mention. `self` is the
 * segment being saved (its new definition stands in for the stored one).
 */
async function resolveReferences(
  db: Db,
  workspaceId: string,
  definition: Condition,
  self?: { id: string; name: string },
): Promise<Map<string, Condition>> {
  const loaded = new Map<string, { name: string; definition: Condition }>();
  if (self) loaded.set(self.id, { name: self.name, definition });
  let pending = references(definition).segments.map((r) => r.id);
  while (pending.length > 0) {
    const wanted = [...new Set(pending)].filter((id) => !loaded.has(id));
    if (wanted.length === 0) break;
    const rows = await repo.definitions(db, workspaceId, wanted);
    for (const row of rows) loaded.set(row.id, { name: row.name, definition: row.definition as Condition });
    pending = rows.flatMap((row) => references(row.definition as Condition).segments.map((r) => r.id));
  }
  const errors: ErrorDetail[] = [];
  for (const mention of references(definition, DEFINITION_PATH).segments) {
    if (!loaded.has(mention.id))
      errors.push({ path: mention.path, message: `segment ${mention.id} does not exist in this workspace` });
  }
  if (errors.length > 0) throw invalid(errors);

  // Depth first along each chain of names: a segment met again on its own chain is a cycle.
  const visit = (id: string, chain: string[], path: string): void => {
    const entry = loaded.get(id);
    if (!entry) return;
    if (chain.includes(id)) {
      const names = [...chain, id].map((c) => loaded.get(c)?.name ?? c);
      throw invalid([
        {
          path,
          message: `segments may not name each other in a circle: ${names.join(' -> ')}`,
          cycle: names,
        },
      ]);
    }
    for (const ref of references(entry.definition).segments) visit(ref.id, [...chain, id], path);
  };
  for (const mention of references(definition, DEFINITION_PATH).segments) {
    visit(mention.id, self ? [self.id] : [], mention.path);
  }
  return new Map([...loaded].map(([id, entry]) => [id, entry.definition]));
}

/**
 * The compiled filter of a saved segment, evaluated now: for embedding in
 * other queries (campaign audiences) on the caller's connection or
 * transaction. undefined when the segment does not exist.
 */
export async function compileSavedSegment(
  db: Db,
  workspaceId: string,
  segmentId: string,
  now: Date,
  aliasPrefix?: string,
): Promise<CompiledSegment | undefined> {
  const row = await repo.findSegment(db, workspaceId, segmentId);
  if (!row) return undefined;
  const definition = row.definition as Condition;
  const segments = await resolveReferences(db, workspaceId, definition);
  return compileSegment(definition, { workspaceId, now, segments, ...(aliasPrefix ? { aliasPrefix } : {}) });
}

/**
 * Whether one contact matches a condition now (the probe shape: a few index
 * lookups): for automation branches. Segments it names are loaded from the
 * workspace; one that no longer exists makes the call throw SEGMENT_INVALID.
 */
export async function contactMatches(
  db: Db,
  workspaceId: string,
  condition: Condition,
  contactId: string,
  now: Date,
): Promise<boolean> {
  const segments = await resolveReferences(db, workspaceId, condition);
  const compiled = compileSegment(condition, { workspaceId, now, segments });
  const found = await repo.withSegmentSettings(db, (trx) =>
    repo.matchingAmong(trx, workspaceId, compiled.probe, [contactId]),
  );
  return found.length > 0;
}

export function createSegmentService(deps: { db: Db; clock: Clock; attributes: AttributeTypes }) {
  const { db, clock, attributes } = deps;

  /** Everything about a definition that can be wrong, as one SEGMENT_INVALID with every path. */
  async function checked(
    trx: Db,
    workspaceId: string,
    raw: unknown,
    self?: { id: string; name: string },
  ): Promise<{ definition: Condition; segments: Map<string, Condition> }> {
    const result = checkDefinition(raw, DEFINITION_PATH);
    if (!result.ok) throw invalid(result.errors);
    const definition = result.definition;
    const refs = references(definition, DEFINITION_PATH);
    const errors: ErrorDetail[] = [];
    const lists = await repo.existingIds(
      trx,
      workspaceId,
      'lists',
      refs.lists.map((r) => r.id),
    );
    for (const r of refs.lists)
      if (!lists.has(r.id))
        errors.push({ path: r.path, message: `list ${r.id} does not exist in this workspace` });
    const campaigns = await repo.existingIds(
      trx,
      workspaceId,
      'campaigns',
      refs.campaigns.map((r) => r.id),
    );
    for (const r of refs.campaigns)
      if (!campaigns.has(r.id))
        errors.push({ path: r.path, message: `campaign ${r.id} does not exist in this workspace` });
    errors.push(
      ...checkAttributeTypes(
        definition,
        await attributes.definitions(workspaceId, trx),
        DEFINITION_PATH,
        await attributes.sensitiveNames?.(workspaceId, trx),
      ),
    );
    if (errors.length > 0) throw invalid(errors);
    const segments = await resolveReferences(trx, workspaceId, definition, self);
    if (countSubqueries(definition, segments) > LIMITS.subqueries) {
      throw invalid([
        {
          path: DEFINITION_PATH,
          message: `with the segments it names, this definition has more than ${LIMITS.subqueries} list, event, engagement and conversion conditions`,
        },
      ]);
    }
    return { definition, segments };
  }

  function toSegment(row: repo.SegmentRow): Segment {
    return {
      id: row.id,
      name: row.name,
      description: row.description,
      definition: row.definition as Condition,
      recorded_members: { count: row.member_count, checked_at: row.members_checked_at },
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  async function mustFind(trx: Db, workspaceId: string, id: string): Promise<repo.SegmentRow> {
    const row = await repo.findSegment(trx, workspaceId, id);
    if (!row) throw notFound(id);
    return row;
  }

  async function nameTaken(trx: Db, workspaceId: string, name: string, except?: string): Promise<void> {
    const other = await repo.findSegmentByName(trx, workspaceId, name);
    if (other && other.id !== except) {
      throw new DomainError(
        'SEGMENT_EXISTS',
        `a segment named "${other.name}" already exists (id ${other.id}); choose another name`,
        [{ path: '/name', message: 'already used by another segment' }],
      );
    }
  }

  async function compiledSaved(workspaceId: string, id: string): Promise<CompiledSegment> {
    const compiled = await compileSavedSegment(db, workspaceId, id, clock.now());
    if (!compiled) throw notFound(id);
    return compiled;
  }

  async function page(
    workspaceId: string,
    compiled: CompiledSegment,
    options: { cursor?: string | undefined; limit: number },
  ): Promise<Page<SegmentContact>> {
    const rows = await repo.pageMatching(db, workspaceId, compiled, {
      after: decodeCursor(options.cursor),
      limit: options.limit,
    });
    return toPage(rows, options.limit);
  }

  return {
    async create(
      workspaceId: string,
      input: SegmentInput & { name: string; definition: unknown },
    ): Promise<Segment> {
      return db.transaction().execute(async (trx) => {
        await repo.lockWorkspaceSegments(trx, workspaceId);
        const now = clock.now();
        const id = uuidv7(now.getTime());
        await nameTaken(trx, workspaceId, input.name);
        const { definition } = await checked(trx, workspaceId, input.definition, { id, name: input.name });
        const row = await repo.insertSegment(trx, {
          id,
          workspace_id: workspaceId,
          name: input.name,
          description: input.description ?? null,
          definition: JSON.stringify(definition),
          created_at: now,
          updated_at: now,
        });
        if (!row) throw new DomainError('SEGMENT_EXISTS', `a segment named "${input.name}" already exists`);
        return toSegment(row);
      });
    },

    async get(workspaceId: string, id: string): Promise<Segment> {
      return toSegment(await mustFind(db, workspaceId, id));
    },

    async list(
      workspaceId: string,
      options: { cursor?: string | undefined; limit: number },
    ): Promise<Page<Segment>> {
      const rows = await repo.listSegments(db, workspaceId, {
        after: decodeCursor(options.cursor),
        limit: options.limit,
      });
      const paged = toPage(rows, options.limit);
      return { data: paged.data.map(toSegment), next_cursor: paged.next_cursor };
    },

    /** Changes name, description or definition. A changed definition takes effect at once (segments are live). */
    async update(workspaceId: string, id: string, input: SegmentInput): Promise<Segment> {
      return db.transaction().execute(async (trx) => {
        await repo.lockWorkspaceSegments(trx, workspaceId);
        const current = await mustFind(trx, workspaceId, id);
        if (input.name !== undefined) await nameTaken(trx, workspaceId, input.name, id);
        const changes: Parameters<typeof repo.updateSegment>[3] = { updated_at: clock.now() };
        if (input.name !== undefined) changes.name = input.name;
        if (input.description !== undefined) changes.description = input.description;
        if (input.definition !== undefined) {
          const { definition } = await checked(trx, workspaceId, input.definition, {
            id,
            name: input.name ?? current.name,
          });
          changes.definition = JSON.stringify(definition);
        }
        const row = await repo.updateSegment(trx, workspaceId, id, changes);
        return toSegment(row ?? current);
      });
    },

    /** Refused while another segment names it or an unfinished campaign sends to or excludes it. */
    async remove(workspaceId: string, id: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await repo.lockWorkspaceSegments(trx, workspaceId);
        await mustFind(trx, workspaceId, id);
        const naming = (await repo.allDefinitions(trx, workspaceId)).filter(
          (s) => s.id !== id && references(s.definition as Condition).segments.some((r) => r.id === id),
        );
        if (naming.length > 0) {
          throw new DomainError(
            'SEGMENT_IN_USE',
            `segment ${id} is named by ${naming.map((s) => `segment "${s.name}" (${s.id})`).join(', ')}; change those definitions first`,
            naming.map((s) => ({ message: `named by segment "${s.name}"`, segment_id: s.id })),
          );
        }
        const campaigns = await repo.campaignsUsing(trx, workspaceId, id);
        if (campaigns.length > 0) {
          throw new DomainError(
            'SEGMENT_IN_USE',
            `segment ${id} is the audience or an exclusion of ${campaigns.map((c) => `campaign "${c.name}" (${c.id}, ${c.status})`).join(', ')}; change or cancel those campaigns first`,
            campaigns.map((c) => ({
              message: `used by campaign "${c.name}" (${c.status})`,
              campaign_id: c.id,
            })),
          );
        }
        await repo.deleteSegment(trx, workspaceId, id);
      });
    },

    /** How many contacts match now. */
    async count(workspaceId: string, id: string): Promise<{ count: number; evaluated_at: Date }> {
      const compiled = await compiledSaved(workspaceId, id);
      return { count: await repo.countMatching(db, workspaceId, compiled), evaluated_at: clock.now() };
    },

    /** The contacts matching now, in id order, a page at a time. */
    async contacts(
      workspaceId: string,
      id: string,
      options: { cursor?: string | undefined; limit: number },
    ): Promise<Page<SegmentContact>> {
      decodeCursor(options.cursor);
      return page(workspaceId, await compiledSaved(workspaceId, id), options);
    },

    /** Count and first contacts of a definition that is not saved (for building one). */
    async evaluate(
      workspaceId: string,
      raw: unknown,
      limit: number,
    ): Promise<{ count: number; data: SegmentContact[]; evaluated_at: Date }> {
      const now = clock.now();
      const { definition, segments } = await checked(db, workspaceId, raw);
      const compiled = compileSegment(definition, { workspaceId, now, segments });
      const first = await page(workspaceId, compiled, { limit });
      return {
        count: await repo.countMatching(db, workspaceId, compiled),
        data: first.data,
        evaluated_at: now,
      };
    },

    /**
     * The SQL a segment compiles to, with its parameters and PostgreSQL's plan,
     * for debugging: the count query (set shape) and the per-contact shape
     * that campaign claims embed.
     */
    async explain(workspaceId: string, id: string, analyze: boolean) {
      const compiled = await compiledSaved(workspaceId, id);
      return {
        count: await repo.explain(db, repo.countQuery(workspaceId, compiled), analyze),
        probe: await repo.explain(db, repo.probeQuery(workspaceId, compiled), analyze),
      };
    },
  };
}

export type SegmentService = ReturnType<typeof createSegmentService>;
