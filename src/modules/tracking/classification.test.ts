import { describe, expect, it } from 'vitest';
import {
  type ClassifiableHit,
  classifySequence,
  createSequenceClassifier,
  DEFAULT_CLASSIFIER_OPTIONS,
} from './classification.js';
import { anonymizeIp } from './ip-address.js';

const delivered = new Date('2030-03-01T10:00:00Z');
const at = (ms: number) => new Date(delivered.getTime() + ms);
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const IPHONE_SAFARI =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';
const APPLE_MAIL = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)';
const GMAIL_PROXY =
  'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';

let n = 0;
function hit(
  kind: 'open' | 'click',
  ms: number,
  userAgent: string | null,
  linkId: string | null = kind === 'click' ? 'link-1' : null,
  messageId = 'm-1',
): ClassifiableHit {
  n++;
  return { id: `h-${String(n).padStart(4, '0')}`, messageId, kind, linkId, occurredAt: at(ms), userAgent };
}

function labels(hits: ClassifiableHit[], deliveredAt: Date | null = delivered) {
  const result = classifySequence(hits, () => deliveredAt ?? undefined);
  return hits.map((h) => {
    const label = result.get(h.id);
    return `${label?.classification}${label?.reason ? `:${label.reason}` : ''}`;
  });
}

describe('classification of crafted hit sequences', () => {
  it('labels the Apple Mail Privacy Protection prefetch pattern prefetch', () => {
    // The proxy fetches the pixel minutes after delivery with the bare user agent, and again later.
    expect(labels([hit('open', 90_000, 'Mozilla/5.0'), hit('open', 4 * 3_600_000, 'Mozilla/5.0')])).toEqual([
      'prefetch:apple-mpp',
      'prefetch:apple-mpp',
    ]);
  });

  it('labels a security scanner burst scanner, including the clicks that came before the burst was visible', () => {
    const sequence = [
      hit('open', 1_000, CHROME),
      hit('click', 15_000, CHROME, 'link-1'),
      hit('click', 15_400, CHROME, 'link-2'),
      hit('click', 15_900, CHROME, 'link-3'),
      hit('click', 16_300, CHROME, 'link-4'),
    ];
    expect(labels(sequence)).toEqual([
      'human',
      'scanner:burst',
      'scanner:burst',
      'scanner:burst',
      'scanner:burst',
    ]);
  });

  it('labels clicks within seconds of delivery scanner (too fast for a person)', () => {
    expect(labels([hit('click', 2_000, CHROME)])).toEqual(['scanner:too-fast']);
    // Unknown delivery time: the rule cannot apply.
    expect(labels([hit('click', 2_000, CHROME)], null)).toEqual(['human']);
  });

  it('labels the honeypot click and every click of the message around it scanner', () => {
    const sequence = [
      hit('click', 30_000, CHROME, 'link-1'),
      hit('click', 31_000, CHROME, null),
      hit('click', 40_000, CHROME, 'link-2'),
      // Much later, a person clicks: human again.
      hit('click', 3_600_000, IPHONE_SAFARI, 'link-1'),
    ];
    expect(labels(sequence)).toEqual([
      'scanner:hidden-link',
      'scanner:hidden-link',
      'scanner:hidden-link',
      'human',
    ]);
  });

  it('labels known bot user agents and missing user agents', () => {
    expect(
      labels([
        hit('click', 60_000, 'python-requests/2.31'),
        hit('open', 60_000, 'python-requests/2.31'),
        hit('open', 60_000, null),
        hit('click', 60_000, ''),
      ]),
    ).toEqual(['scanner:isbot-ua', 'bot:isbot-ua', 'bot:no-ua', 'scanner:no-ua']);
  });

  it('labels image-proxy opens proxy (a real open, device hidden)', () => {
    expect(
      labels([
        hit('open', 5_000, GMAIL_PROXY),
        hit('open', 600_000, 'YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html'),
      ]),
    ).toEqual(['proxy:image-proxy', 'proxy:image-proxy']);
  });

  it('keeps the work per click bounded when one message is clicked over and over', () => {
    const classifier = createSequenceClassifier();
    // A machine hitting one message's single link every 10 ms: no burst (one link), so human by the rules.
    for (let i = 0; i < 1000; i++)
      classifier.push(hit('click', 20_000 + i * 10, CHROME, 'link-1'), delivered);
    // The honeypot relabels the clicks around it, but only those the classifier still remembers.
    const honeypot = classifier.push(hit('click', 30_100, CHROME, null), delivered);
    expect(honeypot.label).toEqual({ classification: 'scanner', reason: 'hidden-link' });
    expect(honeypot.relabel.length).toBe(32);
  });

  it('labels a real person human: opens, then clicks two links at a human pace', () => {
    const sequence = [
      hit('open', 20 * 60_000, APPLE_MAIL),
      hit('click', 20 * 60_000 + 25_000, IPHONE_SAFARI, 'link-1'),
      hit('click', 20 * 60_000 + 70_000, IPHONE_SAFARI, 'link-2'),
      hit('open', 2 * 3_600_000, APPLE_MAIL),
    ];
    expect(labels(sequence)).toEqual(['human', 'human', 'human', 'human']);
  });

  it('keeps messages apart: clicks of other messages never make a burst', () => {
    const sequence = [
      hit('click', 60_000, CHROME, 'link-1', 'm-1'),
      hit('click', 60_100, CHROME, 'link-2', 'm-2'),
      hit('click', 60_200, CHROME, 'link-3', 'm-3'),
    ];
    expect(labels(sequence)).toEqual(['human', 'human', 'human']);
  });

  it('gives the same labels whatever order the hits are handed in', () => {
    const sequence = [
      hit('click', 15_000, CHROME, 'link-1'),
      hit('click', 15_400, CHROME, 'link-2'),
      hit('click', 15_900, CHROME, 'link-3'),
      hit('open', 90_000, 'Mozilla/5.0'),
    ];
    expect(labels([...sequence].reverse()).reverse()).toEqual(labels(sequence));
  });
});

describe('the sequence classifier', () => {
  it('reports earlier hits it relabels, and forgets hits older than its window', () => {
    const classifier = createSequenceClassifier(DEFAULT_CLASSIFIER_OPTIONS, { maxMessages: 2 });
    const first = hit('click', 15_000, CHROME, 'link-1');
    expect(classifier.push(first, delivered).label.classification).toBe('human');
    classifier.push(hit('click', 15_100, CHROME, 'link-2'), delivered);
    const third = classifier.push(hit('click', 15_200, CHROME, 'link-3'), delivered);
    expect(third.label).toEqual({ classification: 'scanner', reason: 'burst' });
    expect(third.relabel.map((r) => r.id)).toContain(first.id);
    // Never more than maxMessages: the least recently clicked are forgotten first.
    for (const message of ['m-2', 'm-3', 'm-4', 'm-5'])
      classifier.push(hit('click', 16_000, CHROME, 'link-1', message), delivered);
    expect(classifier.size()).toBe(2);
    // Opens are judged alone and not remembered.
    classifier.push(hit('open', 16_000, CHROME, null, 'm-6'), delivered);
    expect(classifier.size()).toBe(2);
    // A click more than two of the widest windows (a minute) later: the messages before it are forgotten.
    classifier.push(hit('click', 16_000 + 121_000, CHROME, 'link-1', 'm-7'), delivered);
    expect(classifier.size()).toBe(1);
  });

  it('remembers a message clicked within the window however many others are clicked in between', () => {
    const classifier = createSequenceClassifier();
    classifier.push(hit('click', 0, CHROME, 'link-1', 'first'), delivered);
    classifier.push(hit('click', 50_000, CHROME, null, 'watched'), delivered);
    // A big campaign's clicks, each on another message, for 45 seconds (a minute after the first click among them).
    for (let i = 1; i <= 45_000; i++)
      classifier.push(hit('click', 50_000 + i, CHROME, 'link-1', `other-${i}`), delivered);
    // The honeypot click 45 seconds ago still marks the message's next click a scanner's.
    expect(classifier.push(hit('click', 95_000, CHROME, 'link-2', 'watched'), delivered).label).toEqual({
      classification: 'scanner',
      reason: 'hidden-link',
    });
    // A minute and more after it, it no longer does.
    expect(classifier.push(hit('click', 111_000, CHROME, 'link-2', 'watched'), delivered).label).toEqual({
      classification: 'human',
      reason: null,
    });
  });
});

describe('anonymizeIp', () => {
  it('keeps, truncates or drops addresses per the workspace setting', () => {
    expect(anonymizeIp('203.0.113.77', 'none')).toBe('203.0.113.77');
    expect(anonymizeIp('203.0.113.77', 'truncate')).toBe('203.0.113.0');
    expect(anonymizeIp('203.0.113.77', 'drop')).toBeNull();
    expect(anonymizeIp('::ffff:203.0.113.77', 'truncate')).toBe('203.0.113.0');
    expect(anonymizeIp('2001:db8:85a3:8d3:1319:8a2e:370:7348', 'truncate')).toBe('2001:db8:85a3::');
    expect(anonymizeIp('2001:db8::1', 'truncate')).toBe('2001:db8:0::');
    expect(anonymizeIp('::1', 'truncate')).toBe('0:0:0::');
    expect(anonymizeIp('2001:db8::1', 'none')).toBe('2001:db8::1');
    expect(anonymizeIp('not an ip', 'none')).toBeNull();
    expect(anonymizeIp('999.1.1.1', 'truncate')).toBeNull();
    expect(anonymizeIp(undefined, 'truncate')).toBeNull();
  });
});
