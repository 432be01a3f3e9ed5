import { isbot } from 'isbot';
import type { HitClassification, HitKind } from '../../db/index.js';

/**
 * Who made an open or a click: a person, or a machine acting for the mailbox.
 *
 * Labels: `human`; `proxy` (an image proxy such as Gmail's fetched the pixel
 * when the person opened the message: a real open whose device is hidden);
 * `prefetch` (Apple Mail Privacy Protection loads every image of every
 * message, opened or not); `scanner` (security gateways that follow links
 * to check them); `bot` (anything else that says it is a bot). human and
 * proxy count as people in reports.
 *
 * Heuristics, in order:
 * - Opens through a known image proxy (GoogleImageProxy, YahooMailProxy) -> proxy.
 * - Opens whose user agent is exactly `Mozilla/5.0` -> prefetch (`apple-mpp`).
 *   Apple's proxy fetches with that bare user agent; its IP ranges are not
 *   published in a form usable offline, so the user agent is the signal.
 *   Within minutes of delivery this is the prefetch; later it is still the
 *   proxy, not the person's device, so it stays prefetch.
 * - No user agent -> bot (`no-ua`); a user agent `isbot` recognises -> bot
 *   for opens, scanner for clicks (`isbot-ua`).
 * - Clicks on the hidden honeypot link -> scanner (`hidden-link`), and so
 *   are the message's other clicks within `hiddenWindowMs` of it.
 * - Clicks within `tooFastMs` of delivery -> scanner (`too-fast`): scanners
 *   check links while the message is delivered; people take longer to open
 *   and click.
 * - `burstLinks` different links of one message clicked within
 *   `burstWindowMs` -> all of them scanner (`burst`).
 * - Otherwise human.
 */

export interface ClassifiableHit {
  id: string;
  messageId: string;
  kind: HitKind;
  /** null for opens and for the honeypot link. */
  linkId: string | null;
  occurredAt: Date;
  userAgent: string | null;
}

export interface Label {
  classification: HitClassification;
  reason: string | null;
}

export interface LabeledHit extends ClassifiableHit, Label {}

export interface ClassifierOptions {
  tooFastMs: number;
  burstWindowMs: number;
  burstLinks: number;
  hiddenWindowMs: number;
}

export const DEFAULT_CLASSIFIER_OPTIONS: ClassifierOptions = {
  tooFastMs: 10_000,
  burstWindowMs: 2_000,
  burstLinks: 3,
  hiddenWindowMs: 60_000,
};

const IMAGE_PROXY = /GoogleImageProxy|ggpht\.com|YahooMailProxy/i;

// isbot runs one large regular expression; the same few user agents come back again and again.
const botCache = new Map<string, boolean>();
function isBot(ua: string): boolean {
  let known = botCache.get(ua);
  if (known === undefined) {
    known = isbot(ua);
    if (botCache.size >= 5000) botCache.clear();
    botCache.set(ua, known);
  }
  return known;
}
const APPLE_MPP_UA = 'Mozilla/5.0';
/** Clicks of one message a sequence classifier remembers (the newest). */
const MAX_REMEMBERED_CLICKS = 32;

// Labels are shared, never changed: a label per hit would be garbage on the busiest path.
const HUMAN: Label = Object.freeze({ classification: 'human', reason: null });
const IMAGE_PROXY_LABEL: Label = Object.freeze({ classification: 'proxy', reason: 'image-proxy' });
const APPLE_MPP: Label = Object.freeze({ classification: 'prefetch', reason: 'apple-mpp' });
const OPEN_NO_UA: Label = Object.freeze({ classification: 'bot', reason: 'no-ua' });
const OPEN_BOT_UA: Label = Object.freeze({ classification: 'bot', reason: 'isbot-ua' });
const HIDDEN_LINK: Label = Object.freeze({ classification: 'scanner', reason: 'hidden-link' });
const CLICK_NO_UA: Label = Object.freeze({ classification: 'scanner', reason: 'no-ua' });
const CLICK_BOT_UA: Label = Object.freeze({ classification: 'scanner', reason: 'isbot-ua' });
const TOO_FAST: Label = Object.freeze({ classification: 'scanner', reason: 'too-fast' });
const BURST: Label = Object.freeze({ classification: 'scanner', reason: 'burst' });
const NO_RELABEL: readonly { id: string; label: Label }[] = Object.freeze([]);

/** The label a hit gets from its own properties alone (user agent, link). */
export function labelByItself(hit: ClassifiableHit): Label | undefined {
  const ua = hit.userAgent?.trim() ?? '';
  if (hit.kind === 'open') {
    if (IMAGE_PROXY.test(ua)) return IMAGE_PROXY_LABEL;
    if (ua === APPLE_MPP_UA) return APPLE_MPP;
    if (ua === '') return OPEN_NO_UA;
    if (isBot(ua)) return OPEN_BOT_UA;
    return undefined;
  }
  if (hit.linkId === null) return HIDDEN_LINK;
  if (ua === '') return CLICK_NO_UA;
  if (isBot(ua)) return CLICK_BOT_UA;
  return undefined;
}

export interface HitContext {
  /** When the message was handed to the transport (campaign_sends.finished_at, messages.sent_at); unknown: undefined. */
  deliveredAt?: Date | undefined;
  /** Earlier hits (clicks are what matters) of the same message, already labelled (any order). */
  recent: readonly LabeledHit[];
}

export interface Classified {
  label: Label;
  /** Earlier hits whose label this hit changes (a burst or honeypot seen only now). */
  relabel: readonly { id: string; label: Label }[];
}

const isHumanClick = (h: LabeledHit) =>
  h.kind === 'click' && (h.classification === 'human' || h.classification === 'proxy');
const within = (h: ClassifiableHit, t: number, ms: number) => Math.abs(h.occurredAt.getTime() - t) <= ms;

/**
 * Classifies one hit given what came before it for the same message. Pure.
 * Written with loops rather than filter and Set: it runs for every click,
 * and a message under a scanner's burst brings up to 32 remembered clicks.
 */
export function classifyHit(
  hit: ClassifiableHit,
  context: HitContext,
  options: ClassifierOptions = DEFAULT_CLASSIFIER_OPTIONS,
): Classified {
  const own = labelByItself(hit);
  if (hit.kind === 'open') return { label: own ?? HUMAN, relabel: NO_RELABEL };
  const t = hit.occurredAt.getTime();
  const recent = context.recent;

  // The honeypot: every click of the message around it is a scanner's.
  if (hit.linkId === null) {
    const relabel: { id: string; label: Label }[] = [];
    for (const other of recent) {
      if (isHumanClick(other) && within(other, t, options.hiddenWindowMs))
        relabel.push({ id: other.id, label: HIDDEN_LINK });
    }
    return { label: HIDDEN_LINK, relabel };
  }
  if (own) return { label: own, relabel: NO_RELABEL };
  for (const h of recent) {
    if (h.kind === 'click' && h.linkId === null && within(h, t, options.hiddenWindowMs))
      return { label: HIDDEN_LINK, relabel: NO_RELABEL };
  }
  if (context.deliveredAt && t - context.deliveredAt.getTime() < options.tooFastMs) {
    return { label: TOO_FAST, relabel: NO_RELABEL };
  }
  // A burst: burstLinks different links of the message (this one included) within the burst window.
  const links: (string | null)[] = [hit.linkId];
  for (const h of recent) {
    if (
      h.kind === 'click' &&
      h.linkId !== null &&
      within(h, t, options.burstWindowMs) &&
      !links.includes(h.linkId)
    )
      links.push(h.linkId);
  }
  if (links.length < options.burstLinks) return { label: HUMAN, relabel: NO_RELABEL };
  const relabel: { id: string; label: Label }[] = [];
  for (const h of recent) {
    if (h.kind === 'click' && h.linkId !== null && within(h, t, options.burstWindowMs) && isHumanClick(h))
      relabel.push({ id: h.id, label: BURST });
  }
  return { label: BURST, relabel: relabel.length > 0 ? relabel : NO_RELABEL };
}

/**
 * Classifies a whole sequence of hits (any messages, any order) from
 * scratch: the re-run over stored raw hits. Returns the final label per hit id.
 */
export function classifySequence(
  hits: readonly ClassifiableHit[],
  deliveredAt: (messageId: string) => Date | undefined,
  options: ClassifierOptions = DEFAULT_CLASSIFIER_OPTIONS,
): Map<string, Label> {
  const classifier = createSequenceClassifier(options);
  const sorted = [...hits].sort(
    (a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  const labels = new Map<string, Label>();
  for (const hit of sorted) {
    const result = classifier.push(hit, deliveredAt(hit.messageId));
    labels.set(hit.id, result.label);
    for (const change of result.relabel) labels.set(change.id, change.label);
  }
  return labels;
}

/**
 * A classifier that remembers each message's recent hits, so hits arriving
 * one by one (or page by page from storage, in time order) are labelled with
 * their context. Memory is bounded: a message's hits older than the widest
 * window behind the newest hit seen are forgotten, at most 32 clicks per
 * message and at most `maxMessages` messages are kept.
 *
 * Messages are kept in two generations, each spanning the widest window of
 * hit time: a message clicked in the current one is in the young map, and
 * when the window has passed (or the young map holds half of
 * `maxMessages`) the old map is dropped whole and the young one takes its
 * place. So a message not clicked for two windows is forgotten, one clicked
 * within the window never is (unless half of `maxMessages` others were
 * clicked since), and a hit costs a lookup or two: no ordering to keep up
 * and no scan for stale messages, which under a big campaign's clicks (a
 * new message each time) cost more than classifying.
 */
export function createSequenceClassifier(
  options: ClassifierOptions = DEFAULT_CLASSIFIER_OPTIONS,
  limits: { maxMessages?: number } = {},
) {
  const perGeneration = Math.max(1, Math.floor((limits.maxMessages ?? 100_000) / 2));
  const keepMs = Math.max(options.hiddenWindowMs, options.burstWindowMs);
  let young = new Map<string, LabeledHit[]>();
  let old = new Map<string, LabeledHit[]>();
  let generationStart = Number.NEGATIVE_INFINITY;
  let newest = 0;

  function contextOf(messageId: string): LabeledHit[] {
    let context = young.get(messageId);
    if (context) return context;
    context = old.get(messageId);
    if (context) old.delete(messageId);
    else context = [];
    if (young.size >= perGeneration) {
      old = young;
      young = new Map();
      generationStart = newest;
    }
    young.set(messageId, context);
    return context;
  }

  return {
    push(hit: ClassifiableHit, deliveredAt: Date | undefined): Classified {
      const t = hit.occurredAt.getTime();
      if (t > newest) newest = t;
      // An open is judged by itself, and only clicks make a click's context: opens are not remembered.
      if (hit.kind === 'open') return classifyHit(hit, { deliveredAt, recent: [] }, options);
      if (newest - generationStart >= keepMs) {
        // A window has passed since the young generation began: what the old one holds is older than that.
        old = newest - generationStart >= 2 * keepMs ? new Map() : young;
        young = new Map();
        generationStart = newest;
      }
      const context = contextOf(hit.messageId);
      const cutoff = newest - keepMs;
      let stale = 0;
      while (stale < context.length && (context[stale] as LabeledHit).occurredAt.getTime() < cutoff) stale++;
      if (stale > 0) context.splice(0, stale);
      const result = classifyHit(hit, { deliveredAt, recent: context }, options);
      for (const change of result.relabel) {
        const target = context.find((h) => h.id === change.id);
        if (target) {
          target.classification = change.label.classification;
          target.reason = change.label.reason;
        }
      }
      // What a later click needs of this one, not the whole hit: remembered clicks live for a minute.
      context.push({
        id: hit.id,
        messageId: hit.messageId,
        kind: hit.kind,
        linkId: hit.linkId,
        occurredAt: hit.occurredAt,
        userAgent: null,
        classification: result.label.classification,
        reason: result.label.reason,
      });
      // A message clicked more often than this within the window is a machine's: judging it by its newest
      // clicks is enough, and keeps the work per hit bounded however often one message's links are hit.
      if (context.length > MAX_REMEMBERED_CLICKS) context.splice(0, context.length - MAX_REMEMBERED_CLICKS);
      return result;
    },
    /** Messages currently remembered. */
    size: () => young.size + old.size,
  };
}

/** Machine labels: everything but human and proxy. */
export function isMachine(classification: HitClassification): boolean {
  return classification !== 'human' && classification !== 'proxy';
}
