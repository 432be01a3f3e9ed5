import type { AutomationStatus, Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError } from '../../lib/errors.js';
import { formatAmount, uuidv7Floor } from '../analytics/index.js';
import type { AutomationDefinition, AutomationNode } from './automation-definition.js';
import * as automationsRepo from './automations.repository.js';
import { createExperimentReports } from './experiment-reports.js';
import * as repo from './reports.repository.js';

/**
 * The automation report: what the runs entered in a window did, per
 * automation and per node. Read from the raw rows through keys (see
 * reports.repository.ts for what each statement costs), so it is current up
 * to the tracking hits still in a writer's buffer (a second or so).
 *
 * Definitions shared with the campaign report (analytics.service.ts): opens
 * and clicks are counted as hits (`total`, `human`) and as emails with at
 * least one hit (`unique`, `human_unique`); people are hits classified human
 * or proxy; rates are ratios of human unique counts to emails sent, rounded
 * to 6 decimals, null when the denominator is 0; conversions are those the
 * analytics attribution credited to a click on one of the emails, revenue an
 * exact decimal sum per currency.
 */

export interface Counts {
  total: number;
  unique: number;
  human: number;
  human_unique: number;
}

export interface Revenue {
  currency: string;
  amount: string;
  conversions: number;
}

export interface ConversionTotals {
  count: number;
  converting_runs: number;
  revenue: Revenue[];
}

export interface EmailStats {
  sent: number;
  failed: number;
  queued: number;
  opens: Counts;
  clicks: Counts;
  conversions: ConversionTotals;
}

export interface NodeReport {
  id: string;
  type: string | null;
  versions: number[];
  in_current_version: boolean;
  entered: number;
  waiting: number;
  completed: number;
  exited: number;
  failed: number;
  executions: number;
  email: EmailStats | null;
  goal_reached: number | null;
  paths: { path: string; next: string | null; count: number }[] | null;
}

export interface AutomationReport {
  automation_id: string;
  name: string;
  status: AutomationStatus;
  current_version: number | null;
  from: Date | null;
  to: Date | null;
  runs: {
    entered: number;
    held_out: number;
    active: number;
    completed: number;
    exited: number;
    failed: number;
    goal_reached: number;
  };
  emails: { sent: number; failed: number; queued: number };
  opens: Counts;
  clicks: Counts;
  conversions: ConversionTotals;
  rates: {
    open_rate: number | null;
    click_rate: number | null;
    click_to_open_rate: number | null;
    goal_rate: number | null;
    conversion_rate: number | null;
  };
  nodes: NodeReport[];
}

export interface ReportRange {
  from?: string | undefined;
  to?: string | undefined;
}

const num = (value: string | number | null | undefined) =>
  value === null || value === undefined ? 0 : Number(value);

function ratio(numerator: number, denominator: number): number | null {
  return denominator > 0 ? Math.round((numerator / denominator) * 1e6) / 1e6 : null;
}

const zeroCounts = (): Counts => ({ total: 0, unique: 0, human: 0, human_unique: 0 });

function addCounts(into: Counts, add: Counts): void {
  into.total += add.total;
  into.unique += add.unique;
  into.human += add.human;
  into.human_unique += add.human_unique;
}

function parseDate(value: string | undefined, path: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new DomainError('VALIDATION_FAILED', `${path.slice(1)} is not a date-time`, [
      { path, message: 'is not a date-time' },
    ]);
  return date;
}

function nodesOf(definition: unknown): AutomationNode[] {
  const nodes = (definition as Partial<AutomationDefinition> | null)?.nodes;
  return Array.isArray(nodes) ? nodes : [];
}

/** The ways out of a branch or split node as its definition names them, in order. */
function waysOf(node: AutomationNode | undefined): { path: string; next: string | null }[] | null {
  if (node?.type === 'branch')
    return [
      ...node.branches.map((b, i) => ({ path: String(i), next: b.next })),
      { path: 'else', next: node.else },
    ];
  if (node?.type === 'random_split') return node.paths.map((p, i) => ({ path: String(i), next: p.next }));
  return null;
}

function revenueOf(rows: repo.ConversionRow[]): Revenue[] {
  return rows
    .filter((r) => r.currency !== null && r.currency !== '')
    .sort((a, b) => String(a.currency).localeCompare(String(b.currency)))
    .map((r) => ({
      currency: r.currency as string,
      amount: formatAmount(r.revenue, r.currency as string),
      conversions: num(r.conversions),
    }));
}

function conversionTotals(rows: repo.ConversionRow[]): ConversionTotals {
  const all = rows.find((r) => r.currency === null);
  return {
    count: num(all?.conversions),
    converting_runs: num(all?.converting_runs),
    revenue: revenueOf(rows),
  };
}

interface NodeAccumulator {
  id: string;
  versions: Set<number>;
  entered: number;
  waiting: number;
  completed: number;
  exited: number;
  failed: number;
  executions: number;
  goal: number;
  ways: Map<string, number>;
  email?: { sent: number; failed: number; queued: number; opens: Counts; clicks: Counts };
}

export function createAutomationReports(deps: {
  db: Db;
  clock: Clock;
  /** Conversions from enrolment that the holdout comparison counts (the attribution window). */
  holdoutWindowHours: number;
}) {
  const { db } = deps;

  return {
    ...createExperimentReports(deps),
    async report(workspaceId: string, automationId: string, range: ReportRange): Promise<AutomationReport> {
      const from = parseDate(range.from, '/from');
      const to = parseDate(range.to, '/to');
      if (from && to && from.getTime() >= to.getTime())
        throw new DomainError('VALIDATION_FAILED', 'from must be before to', [
          { path: '/from', message: 'must be before to' },
        ]);
      const automation = await automationsRepo.findAutomation(db, workspaceId, automationId);
      if (!automation)
        throw new DomainError(
          'AUTOMATION_NOT_FOUND',
          `automation ${automationId} does not exist in this workspace`,
        );
      const scope: repo.ReportScope = {
        workspaceId,
        automationId,
        from,
        fromId: from ? uuidv7Floor(from.getTime()) : undefined,
        to,
      };
      // Concurrent on PostgreSQL's pool; queued one after another on the embedded database's one connection.
      const [runGroups, steps, emails, conversions, versions] = await Promise.all([
        repo.runGroups(db, scope),
        repo.nodeSteps(db, scope),
        repo.nodeEmails(db, scope),
        repo.conversions(db, scope),
        repo.versionDefinitions(db, workspaceId, automationId),
      ]);

      const nodes = new Map<string, NodeAccumulator>();
      const nodeFor = (id: string, version: number) => {
        let node = nodes.get(id);
        if (!node) {
          node = {
            id,
            versions: new Set(),
            entered: 0,
            waiting: 0,
            completed: 0,
            exited: 0,
            failed: 0,
            executions: 0,
            goal: 0,
            ways: new Map(),
          };
          nodes.set(id, node);
        }
        node.versions.add(version);
        return node;
      };

      const runs = {
        entered: 0,
        held_out: 0,
        active: 0,
        completed: 0,
        exited: 0,
        failed: 0,
        goal_reached: 0,
      };
      for (const g of runGroups) {
        const n = num(g.runs);
        // The control group's runs did nothing: counted apart, so rates are about the runs treated.
        if (g.held_out) {
          runs.held_out += n;
          continue;
        }
        runs.entered += n;
        if (g.status === 'active') runs.active += n;
        else if (g.status === 'completed') runs.completed += n;
        else if (g.status === 'exited') runs.exited += n;
        else if (g.status === 'failed') runs.failed += n;
        if (g.goal) runs.goal_reached += n;
        // Just enrolled: due at the start node, nothing executed yet. They are in it.
        if (g.not_started && g.status === 'active') {
          const node = nodeFor(g.node, g.version);
          node.entered += n;
          node.waiting += n;
        }
      }
      for (const s of steps) {
        const node = nodeFor(s.node_id, s.version);
        if (s.way === null) {
          node.entered += num(s.entered);
          node.waiting += num(s.waiting);
          node.completed += num(s.completed);
          node.exited += num(s.exited);
          node.failed += num(s.failed);
          node.executions += num(s.executions);
          node.goal += num(s.goal_reached);
        } else node.ways.set(s.way, (node.ways.get(s.way) ?? 0) + num(s.executions));
      }
      for (const e of emails) {
        const node = nodeFor(e.node_id, e.version);
        node.email ??= { sent: 0, failed: 0, queued: 0, opens: zeroCounts(), clicks: zeroCounts() };
        node.email.sent += num(e.sent);
        node.email.failed += num(e.failed);
        node.email.queued += num(e.queued);
        addCounts(node.email.opens, {
          total: num(e.opens),
          unique: num(e.unique_opens),
          human: num(e.human_opens),
          human_unique: num(e.human_unique_opens),
        });
        addCounts(node.email.clicks, {
          total: num(e.clicks),
          unique: num(e.unique_clicks),
          human: num(e.human_clicks),
          human_unique: num(e.human_unique_clicks),
        });
      }
      const conversionsOf = (nodeId: string | null) => conversions.filter((c) => c.node_id === nodeId);

      // Definitions, newest first: a node's type and ways come from the newest version that has it.
      const definitions = versions
        .map((v) => ({ version: v.version, nodes: nodesOf(v.definition) }))
        .sort((a, b) => b.version - a.version);
      const current =
        automation.current_version === null
          ? nodesOf(automation.draft_definition)
          : (definitions.find((d) => d.version === automation.current_version)?.nodes ?? []);
      const definitionOf = (id: string) =>
        current.find((n) => n.id === id) ??
        definitions.flatMap((d) => d.nodes).find((n) => n.id === id) ??
        undefined;

      // The current version's nodes in its order, then the nodes only older versions reached.
      const order = [
        ...current.map((n) => n.id),
        ...[...nodes.keys()].filter((id) => !current.some((n) => n.id === id)),
      ];
      const out: NodeReport[] = order.map((id) => {
        const acc = nodes.get(id);
        const definition = definitionOf(id);
        const type = definition?.type ?? null;
        const ways = waysOf(definition);
        let paths: NodeReport['paths'] = null;
        if (ways || (acc && acc.ways.size > 0)) {
          paths = (ways ?? []).map((w) => ({ ...w, count: acc?.ways.get(w.path) ?? 0 }));
          // A way an older version had (more branches then) and the newest definition does not.
          for (const [path, count] of acc?.ways ?? [])
            if (!paths.some((p) => p.path === path)) paths.push({ path, next: null, count });
        }
        const isEmail = type === 'send_email' || acc?.email !== undefined;
        return {
          id,
          type,
          versions: [...(acc?.versions ?? [])].sort((a, b) => a - b),
          in_current_version: current.some((n) => n.id === id),
          entered: acc?.entered ?? 0,
          waiting: acc?.waiting ?? 0,
          completed: acc?.completed ?? 0,
          exited: acc?.exited ?? 0,
          failed: acc?.failed ?? 0,
          executions: acc?.executions ?? 0,
          email: isEmail
            ? {
                sent: acc?.email?.sent ?? 0,
                failed: acc?.email?.failed ?? 0,
                queued: acc?.email?.queued ?? 0,
                opens: acc?.email?.opens ?? zeroCounts(),
                clicks: acc?.email?.clicks ?? zeroCounts(),
                conversions: conversionTotals(conversionsOf(id)),
              }
            : null,
          goal_reached: type === 'goal' || (acc?.goal ?? 0) > 0 ? (acc?.goal ?? 0) : null,
          paths,
        };
      });

      const totals = { sent: 0, failed: 0, queued: 0 };
      const opens = zeroCounts();
      const clicks = zeroCounts();
      for (const node of out) {
        if (!node.email) continue;
        totals.sent += node.email.sent;
        totals.failed += node.email.failed;
        totals.queued += node.email.queued;
        addCounts(opens, node.email.opens);
        addCounts(clicks, node.email.clicks);
      }
      const totalConversions = conversionTotals(conversionsOf(null));
      return {
        automation_id: automation.id,
        name: automation.name,
        status: automation.status,
        current_version: automation.current_version,
        from: from ?? null,
        to: to ?? null,
        runs,
        emails: totals,
        opens,
        clicks,
        conversions: totalConversions,
        rates: {
          open_rate: ratio(opens.human_unique, totals.sent),
          click_rate: ratio(clicks.human_unique, totals.sent),
          click_to_open_rate: ratio(clicks.human_unique, opens.human_unique),
          goal_rate: ratio(runs.goal_reached, runs.entered),
          conversion_rate: ratio(totalConversions.converting_runs, runs.entered),
        },
        nodes: out,
      };
    },
  };
}

export type AutomationReports = ReturnType<typeof createAutomationReports>;
