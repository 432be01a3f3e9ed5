import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError } from '../../lib/errors.js';
import { compareGroups, type Interval } from '../../lib/statistics/index.js';
import { formatAmount, uuidv7Floor } from '../analytics/index.js';
import type { AutomationDefinition, RandomSplitNode } from './automation-definition.js';
import {
  type ArmCounts,
  type BanditMetric,
  type BanditSettings,
  banditSettings,
  type ChosenBy,
  summarizeBandit,
} from './automation-experiments.js';
import * as automationsRepo from './automations.repository.js';
import * as repo from './experiments.repository.js';
import { versionDefinitions } from './reports.repository.js';

/**
 * Reports of the experiments inside an automation: its bandit splits (what
 * the evidence says per path, and where new runs go now) and its holdout
 * group (lift of the runs treated against the contacts held out).
 */

export interface BanditPathReport {
  path: number;
  /** Where the path leads in the newest version with the node; null for a path only older versions had. */
  next: string | null;
  percent: number | null;
  runs: number;
  trials: number;
  successes: number;
  posterior_mean: number;
  credible_interval: Interval;
  probability_to_be_best: number | null;
  share_of_new_runs: number | null;
}

export interface BanditNodeReport {
  node_id: string;
  in_current_version: boolean;
  versions: number[];
  metric: BanditMetric;
  window_hours: number;
  chosen_by: ChosenBy;
  paths: BanditPathReport[];
}

export interface BanditReport {
  automation_id: string;
  computed_at: Date;
  nodes: BanditNodeReport[];
}

export interface HoldoutReport extends ReturnType<typeof compareGroups> {
  automation_id: string;
  holdout_share: number;
  window_hours: number;
  from: Date | null;
  to: Date | null;
}

function definitionOf(value: unknown): Partial<AutomationDefinition> {
  return (value ?? {}) as Partial<AutomationDefinition>;
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

export function createExperimentReports(deps: { db: Db; clock: Clock; holdoutWindowHours: number }) {
  const { db, clock } = deps;

  async function mustFind(workspaceId: string, automationId: string) {
    const automation = await automationsRepo.findAutomation(db, workspaceId, automationId);
    if (!automation)
      throw new DomainError(
        'AUTOMATION_NOT_FOUND',
        `automation ${automationId} does not exist in this workspace`,
      );
    const versions = (await versionDefinitions(db, workspaceId, automationId))
      .map((v) => ({ version: v.version, definition: definitionOf(v.definition) }))
      .sort((a, b) => b.version - a.version);
    return { automation, versions };
  }

  return {
    /**
     * Every bandit split of the current version (of the draft before the
     * first publish), then those only older versions had, each with its
     * evidence as of now: outcomes that became known by now count, whether
     * or not a choice settled them yet (read-only). The engine decides on
     * the same counts, cached for up to a minute.
     */
    async bandits(workspaceId: string, automationId: string): Promise<BanditReport> {
      const { automation, versions } = await mustFind(workspaceId, automationId);
      const now = clock.now();
      const current =
        automation.current_version === null
          ? definitionOf(automation.draft_definition)
          : versions.find((v) => v.version === automation.current_version)?.definition;
      const found = new Map<
        string,
        { node: RandomSplitNode; settings: BanditSettings; versions: number[] }
      >();
      const consider = (nodes: unknown, version: number | null) => {
        for (const node of Array.isArray(nodes) ? (nodes as RandomSplitNode[]) : []) {
          if (node?.type !== 'random_split') continue;
          const settings = banditSettings(node);
          if (!settings) continue;
          const known = found.get(node.id);
          if (!known) found.set(node.id, { node, settings, versions: version === null ? [] : [version] });
          else if (version !== null && !known.versions.includes(version)) known.versions.push(version);
        }
      };
      consider(current?.nodes, automation.current_version);
      for (const v of versions) consider(v.definition.nodes, v.version);
      const currentIds = new Set(
        (Array.isArray(current?.nodes) ? current.nodes : []).map((n: { id: string }) => n.id),
      );

      const nodes: BanditNodeReport[] = [];
      for (const [nodeId, { node, settings, versions: seen }] of found) {
        const rows = await repo.armCounts(
          db,
          { workspaceId, automationId, nodeId, metric: settings.metric },
          now,
          { judgePending: true },
        );
        const arms: (ArmCounts | undefined)[] = [];
        for (const row of rows) arms[row.path] = row;
        const percents = node.paths.map((p) => p.percent);
        const summary = summarizeBandit(percents, arms, `${automationId}:${nodeId}`);
        const paths: BanditPathReport[] = summary.arms.map((arm, i) => ({
          path: i,
          next: node.paths[i]?.next ?? null,
          percent: percents[i] ?? null,
          runs: rows.find((r) => r.path === i)?.runs ?? 0,
          trials: arm.trials,
          successes: arm.successes,
          posterior_mean: arm.posterior_mean,
          credible_interval: arm.credible_interval,
          probability_to_be_best: arm.probability_to_be_best,
          share_of_new_runs: arm.share_of_new_runs,
        }));
        // A path an older version had and the newest does not: its evidence, outside the comparison.
        for (const row of rows.filter((r) => r.path >= percents.length)) {
          const lone = summarizeBandit([100], [row], `${automationId}:${nodeId}:${row.path}`).arms[0];
          if (!lone) continue;
          paths.push({
            path: row.path,
            next: null,
            percent: null,
            runs: row.runs,
            trials: row.trials,
            successes: row.successes,
            posterior_mean: lone.posterior_mean,
            credible_interval: lone.credible_interval,
            probability_to_be_best: null,
            share_of_new_runs: null,
          });
        }
        nodes.push({
          node_id: nodeId,
          in_current_version: currentIds.has(nodeId),
          versions: seen.sort((a, b) => a - b),
          metric: settings.metric,
          window_hours: settings.window_hours,
          chosen_by: summary.chosen_by,
          paths,
        });
      }
      return { automation_id: automation.id, computed_at: now, nodes };
    },

    /**
     * Lift against the holdout group: per contact (its first run in the
     * window), conversions from enrolment for the attribution window, treated
     * against held out, with Wilson intervals, the difference's interval and
     * two-proportion z-test, relative lift and revenue per contact.
     */
    async holdout(
      workspaceId: string,
      automationId: string,
      range: { from?: string | undefined; to?: string | undefined },
    ): Promise<HoldoutReport> {
      const from = parseDate(range.from, '/from');
      const to = parseDate(range.to, '/to');
      if (from && to && from.getTime() >= to.getTime())
        throw new DomainError('VALIDATION_FAILED', 'from must be before to', [
          { path: '/from', message: 'must be before to' },
        ]);
      const { automation, versions } = await mustFind(workspaceId, automationId);
      if (!versions.some((v) => (v.definition.holdout?.share ?? 0) > 0))
        throw new DomainError(
          'HOLDOUT_NOT_FOUND',
          `automation ${automationId} has no holdout group: publish a version with "holdout": {"share": 0.1}`,
        );
      const current = versions.find((v) => v.version === automation.current_version)?.definition;
      const groups = await repo.holdoutOutcomes(db, {
        workspaceId,
        automationId,
        from,
        fromId: from ? uuidv7Floor(from.getTime()) : undefined,
        to,
        windowHours: deps.holdoutWindowHours,
        now: clock.now(),
      });
      const treated = groups.find((g) => g.group === 'treated') as repo.GroupOutcome;
      const holdout = groups.find((g) => g.group === 'holdout') as repo.GroupOutcome;
      const compared = compareGroups(treated, holdout, formatAmount);
      return {
        automation_id: automation.id,
        holdout_share: current?.holdout?.share ?? 0,
        window_hours: deps.holdoutWindowHours,
        from: from ?? null,
        to: to ?? null,
        ...compared,
      };
    },
  };
}

export type ExperimentReports = ReturnType<typeof createExperimentReports>;
