import { createRandom, type Random } from '../../src/lib/statistics/index.js';

/**
 * A synthetic audience with a known truth, and how each contact responds to
 * an email. Pure and seeded: the same seed gives the same contacts, and the
 * same (seed, contact, message) gives the same behaviour.
 *
 * Each contact has a latent chance to open an email read at their habitual
 * hour (`openPropensity`), a chance to click once opened, and an hour of the
 * day (UTC) when they read mail; an email that arrives far from that hour is
 * opened less often (it is buried by the time they look). Machines add
 * noise the way they do in real mailboxes: Apple Mail Privacy Protection
 * fetches every image of every message minutes after delivery (and hides the
 * person's own opens), Gmail's image proxy fetches the pixel when the person
 * opens, corporate security gateways click every link seconds after
 * delivery, and the odd bot requests a pixel.
 */

export type Provider = 'gmail' | 'yahoo' | 'outlook' | 'apple' | 'other';

export interface WorldContact {
  index: number;
  email: string;
  provider: Provider;
  /** Chance to open an email that arrives at their reading hour. */
  openPropensity: number;
  /** Chance to click once they opened. */
  clickPropensity: number;
  /** Hour of the day (UTC, 0-23) they read mail. */
  readingHour: number;
  /** Reads in Apple Mail with Privacy Protection: every message is prefetched, their opens are invisible. */
  mpp: boolean;
  /** Behind a security gateway that clicks every link at delivery. */
  scanner: boolean;
}

export interface WorldOptions {
  contacts: number;
  /** Share of contacts reading with Apple Mail Privacy Protection (default 0.3). */
  mppShare?: number;
  /** Share of contacts behind a link-scanning gateway (default 0.05). */
  scannerShare?: number;
  /** Share of lapsed contacts who almost never open (default 0.2). */
  lapsedShare?: number;
  /** Email domain suffix, so several worlds can share a workspace. */
  tag?: string;
}

const PROVIDERS: { provider: Provider; domain: string; weight: number }[] = [
  { provider: 'gmail', domain: 'gmail.com', weight: 0.4 },
  { provider: 'yahoo', domain: 'yahoo.com', weight: 0.15 },
  { provider: 'outlook', domain: 'outlook.com', weight: 0.2 },
  { provider: 'apple', domain: 'icloud.com', weight: 0.1 },
  { provider: 'other', domain: 'example.org', weight: 0.15 },
];

/** Reading hours cluster around mornings, lunch and evenings (UTC), as open-time histograms of real lists do. */
const HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 10, 8, 6, 5, 7, 6, 4, 4, 5, 6, 8, 9, 8, 5, 3, 2];

function pick<T>(random: Random, items: readonly T[], weight: (item: T) => number): T {
  const total = items.reduce((sum, item) => sum + weight(item), 0);
  let r = random.next() * total;
  for (const item of items) {
    r -= weight(item);
    if (r < 0) return item;
  }
  return items[items.length - 1] as T;
}

export function createWorld(seed: string, options: WorldOptions): WorldContact[] {
  const random = createRandom(`world:${seed}`);
  const mppShare = options.mppShare ?? 0.3;
  const scannerShare = options.scannerShare ?? 0.05;
  const lapsedShare = options.lapsedShare ?? 0.2;
  const hours = HOUR_WEIGHTS.map((weight, hour) => ({ hour, weight }));
  return Array.from({ length: options.contacts }, (_, index) => {
    const home = pick(random, PROVIDERS, (p) => p.weight);
    const lapsed = random.next() < lapsedShare;
    return {
      index,
      email: `sim${index}${options.tag ? `.${options.tag}` : ''}@${home.domain}`,
      provider: home.provider,
      // Engaged contacts: Beta(2, 3) around 0.4; lapsed ones rarely open at all.
      openPropensity: lapsed ? 0.02 * random.next() : random.beta(2, 3),
      clickPropensity: random.beta(1.5, 6),
      readingHour: pick(random, hours, (h) => h.weight).hour,
      mpp: random.next() < (home.provider === 'apple' ? 0.8 : mppShare),
      scanner: home.provider === 'other' && random.next() < scannerShare / 0.15,
    };
  });
}

/** How far (in hours, 0-12) an hour of the day is from another, around the clock. */
export function hourDistance(a: number, b: number): number {
  const d = Math.abs(a - b) % 24;
  return Math.min(d, 24 - d);
}

/**
 * How much less likely an email is opened when it arrives `distance` hours
 * from the contact's reading hour: 1 at the hour, about 0.5 half a day away.
 */
export function timeFactor(distance: number): number {
  return 0.5 + 0.5 * Math.exp(-(distance * distance) / (2 * 2.5 * 2.5));
}

export interface Message {
  contact: WorldContact;
  deliveredAt: Date;
  /** Multipliers of the variant the contact received (1 for a plain campaign). */
  openMultiplier?: number;
  clickMultiplier?: number;
  /** Distinguishes messages in the behaviour seed (e.g. the campaign id). */
  key: string;
}

export type HitTarget = 'pixel' | 'link' | 'honeypot';

export interface SimulatedHit {
  at: Date;
  target: HitTarget;
  userAgent: string;
  /** What the hit really is; the report compares it with Herald's classification. */
  truth: 'human' | 'proxy' | 'prefetch' | 'scanner' | 'bot';
  contactIndex: number;
  key: string;
}

export const USER_AGENTS = {
  desktop:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  outlook: 'Mozilla/4.0 (compatible; ms-office; MSOffice 16)',
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  gmailProxy: 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
  applePrefetch: 'Mozilla/5.0',
  scanner: 'Mozilla/5.0 (compatible; Barracuda Sentinel (EE))',
  bot: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
};

/** The contact's true behaviour for one message: whether they open and click. */
export interface Outcome {
  opened: boolean;
  clicked: boolean;
  hits: SimulatedHit[];
}

/**
 * What happens to one delivered message: machine hits (prefetch, scanner,
 * bot) and the person's own open and click, at their times.
 */
export function behaviour(seed: string, message: Message): Outcome {
  const { contact } = message;
  const random = createRandom(`behaviour:${seed}:${message.key}:${contact.index}`);
  const delivered = message.deliveredAt.getTime();
  const hits: SimulatedHit[] = [];
  const hit = (offsetMs: number, target: HitTarget, userAgent: string, truth: SimulatedHit['truth']) =>
    hits.push({
      at: new Date(delivered + Math.round(offsetMs)),
      target,
      userAgent,
      truth,
      contactIndex: contact.index,
      key: message.key,
    });

  if (contact.mpp) hit(60_000 + random.next() * 14 * 60_000, 'pixel', USER_AGENTS.applePrefetch, 'prefetch');
  if (contact.scanner) {
    const at = 1_000 + random.next() * 3_000;
    hit(at, 'honeypot', USER_AGENTS.scanner, 'scanner');
    hit(at + 200, 'link', USER_AGENTS.scanner, 'scanner');
  }
  if (random.next() < 0.01) hit(random.next() * 3_600_000, 'pixel', USER_AGENTS.bot, 'bot');

  const hourOfDay = message.deliveredAt.getUTCHours() + message.deliveredAt.getUTCMinutes() / 60;
  const distance = hourDistance(hourOfDay, contact.readingHour);
  const chance = Math.min(
    0.95,
    contact.openPropensity * (message.openMultiplier ?? 1) * timeFactor(distance),
  );
  const opened = random.next() < chance;
  if (!opened) return { opened, clicked: false, hits };
  // Near the reading hour they open soon; otherwise at their next reading hour.
  const hoursUntilReading = (contact.readingHour - hourOfDay + 24) % 24;
  const openAfterMs =
    distance <= 1
      ? 2 * 60_000 + random.next() * 40 * 60_000
      : (hoursUntilReading + random.next()) * 3_600_000;
  if (!contact.mpp) {
    const ua =
      contact.provider === 'gmail'
        ? USER_AGENTS.gmailProxy
        : contact.provider === 'outlook'
          ? USER_AGENTS.outlook
          : random.next() < 0.5
            ? USER_AGENTS.iphone
            : USER_AGENTS.desktop;
    hit(openAfterMs, 'pixel', ua, contact.provider === 'gmail' ? 'proxy' : 'human');
  }
  const clicked = random.next() < Math.min(0.95, contact.clickPropensity * (message.clickMultiplier ?? 1));
  if (clicked) hit(openAfterMs + 20_000 + random.next() * 120_000, 'link', USER_AGENTS.desktop, 'human');
  return { opened, clicked, hits };
}
