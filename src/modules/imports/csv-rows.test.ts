import { type Info, parse } from 'csv-parse';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../lib/errors.js';
import {
  attributeNameFor,
  checkRow,
  csvOptions,
  isBlank,
  LineCounter,
  parseMappingJson,
  resolveMapping,
} from './csv-rows.js';

const definitions = new Map([
  ['score', 'number' as const],
  ['vip', 'boolean' as const],
  ['since', 'date' as const],
]);

function refusal(run: () => unknown): DomainError {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}

describe('resolveMapping', () => {
  it('maps built-in fields by name, case-insensitively and trimmed, and other columns to attributes', () => {
    const plan = resolveMapping([' EMAIL ', 'Tags', 'first_name', 'First Name 2', 'Time_Zone', '']);
    expect(plan.resolved).toEqual({
      ' EMAIL ': 'email',
      Tags: 'tags',
      first_name: 'attributes.first_name',
      'First Name 2': 'attributes.first_name_2',
      Time_Zone: 'timezone',
    });
    expect(plan.columns[5]).toEqual({ kind: 'ignore' });
  });

  it('lets an explicit mapping override names, matched exactly or case-insensitively', () => {
    const plan = resolveMapping(['Mail', 'Kunde', 'status'], {
      mail: 'email',
      Kunde: 'external_id',
      status: null,
    });
    expect(plan.resolved).toEqual({ Mail: 'email', Kunde: 'external_id', status: null });
  });

  it('reads only the email column in unsubscribe and block modes', () => {
    const plan = resolveMapping(['email', 'Some Column!', 'plan'], undefined, 'unsubscribe');
    expect(plan.resolved).toEqual({ email: 'email', 'Some Column!': null, plan: null });
  });

  it.each([
    [['name'], undefined, 'no email column'],
    [['email', 'plan'], { Plan2: 'attributes.plan' }, 'names column "Plan2", which is not in the CSV header'],
    [['email', 'plan'], { plan: 'attributes.9 bad' }, 'not a valid attribute name'],
    [['email', 'plan'], { plan: 'first_name' }, 'has unknown target "first_name"'],
    [['email', 'plan'], { plan: 42 }, 'must be a string or null'],
    [['email', 'E-Mail'], undefined, 'both map to email'],
    [['email', 'plan', 'Plan'], undefined, 'appears twice'],
    [['email', '!!!'], undefined, 'cannot be an attribute name'],
  ])('refuses %j with %j: %s', (header, mapping, message) => {
    const error = refusal(() => resolveMapping(header, mapping as never));
    expect(error.code).toBe('INVALID_MAPPING');
    expect(error.message).toContain(message);
  });
});

describe('parseMappingJson', () => {
  it('accepts a JSON object and refuses anything else', () => {
    expect(parseMappingJson('{"E-Mail":"email","x":null}')).toEqual({ 'E-Mail': 'email', x: null });
    expect(parseMappingJson(undefined)).toBeUndefined();
    expect(refusal(() => parseMappingJson('{nope')).message).toContain('not valid JSON');
    expect(refusal(() => parseMappingJson('["email"]')).message).toContain('must be a JSON object');
  });
});

describe('attributeNameFor', () => {
  it('keeps valid names and slugs the rest', () => {
    expect(attributeNameFor('Plan')).toBe('Plan');
    expect(attributeNameFor('First Name')).toBe('first_name');
    expect(attributeNameFor('Café & Nr.')).toBe('cafe_nr.');
    expect(attributeNameFor('2nd phone')).toBe('_2nd_phone');
    expect(attributeNameFor('???')).toBeUndefined();
  });
});

describe('checkRow', () => {
  const plan = resolveMapping([
    'email',
    'external_id',
    'status',
    'tags',
    'timezone',
    'locale',
    'score',
    'vip',
    'note',
  ]);

  it('normalizes every field and leaves empty cells unset', () => {
    const result = checkRow(
      [' Ann@Example.COM ', 'crm-1', 'Unsubscribed', 'b; a,,a', 'europe/berlin', 'de-de', '42', 'yes', ''],
      2,
      plan,
      definitions,
      'upsert',
    );
    expect(result).toEqual({
      ok: true,
      row: {
        line: 2,
        email: 'Ann@example.com',
        key: 'ann@example.com',
        externalId: 'crm-1',
        status: 'unsubscribed',
        attributes: { score: 42, vip: true },
        tags: ['a', 'b'],
        timezone: 'Europe/Berlin',
        locale: 'de-DE',
        doNotSell: null,
      },
    });
    const sparse = checkRow(
      ['a@example.com', '', '', '', '', '', '', '', ''],
      3,
      plan,
      definitions,
      'upsert',
    );
    expect(sparse).toMatchObject({
      ok: true,
      row: { externalId: null, status: null, attributes: null, tags: null, timezone: null, locale: null },
    });
  });

  it('reads do_not_sell as true/false/1/0/yes/no in any case, and refuses anything else', () => {
    const flagPlan = resolveMapping(['email', 'Do Not Sell']);
    expect(flagPlan.resolved).toEqual({ email: 'email', 'Do Not Sell': 'do_not_sell' });
    const read = (value: string) => checkRow(['a@example.com', value], 4, flagPlan, definitions, 'upsert');
    for (const [value, flag] of [
      ['true', true],
      ['TRUE', true],
      [' Yes ', true],
      ['1', true],
      ['false', false],
      ['No', false],
      ['0', false],
      ['', null],
    ] as const) {
      expect(read(value), value).toMatchObject({ ok: true, row: { doNotSell: flag } });
    }
    for (const value of ['maybe', 'y', '2', 'constructor', 'truefalse']) {
      expect(read(value), value).toEqual({
        ok: false,
        reason: `invalid do_not_sell "${value}": use true, false, 1, 0, yes or no`,
      });
    }
  });

  it('reports every problem of a row in one reason', () => {
    const result = checkRow(
      ['a@example.com', '', 'happy', '', 'Mars/Olympus', '', 'lots', 'maybe', ''],
      7,
      plan,
      definitions,
      'upsert',
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toContain('invalid status "happy"');
    expect(result.reason).toContain('"Mars/Olympus" is not an IANA time zone');
    expect(result.reason).toContain('attribute "score" must be a number, got "lots"');
    expect(result.reason).toContain('attribute "vip" must be true or false');
  });

  it('refuses a bad email, a missing one and a wrong column count', () => {
    const short = resolveMapping(['email', 'note']);
    expect(checkRow(['nope', 'x'], 3, short, definitions, 'upsert')).toEqual({
      ok: false,
      reason: 'invalid email: email has no @',
    });
    expect(checkRow(['', 'x'], 3, short, definitions, 'upsert')).toEqual({
      ok: false,
      reason: 'invalid email: email is empty',
    });
    const wrong = checkRow(['a@example.com'], 4, short, definitions, 'upsert');
    expect(wrong).toMatchObject({
      ok: false,
      reason: expect.stringContaining('has 1 column but the header has 2'),
    });
    expect(checkRow(['a@example.com', 'x', 'y'], 4, short, definitions, 'upsert').ok).toBe(false);
  });

  it('reads only the email in unsubscribe and block modes', () => {
    const result = checkRow(
      ['a@example.com', '', 'happy', '', 'Mars/Olympus', '', 'lots', '', ''],
      2,
      plan,
      definitions,
      'block',
    );
    expect(result).toMatchObject({
      ok: true,
      row: { email: 'a@example.com', status: null, attributes: null },
    });
  });

  it('treats a line of empty cells as blank', () => {
    expect(isBlank(['', ' ', ''])).toBe(true);
    expect(isBlank(['', 'x'])).toBe(false);
  });
});

describe('LineCounter', () => {
  it('counts LF, CRLF and lone CR line ends, also across chunk boundaries', () => {
    const counter = new LineCounter();
    const text = 'a\r\nb\nc\rd\r';
    for (const byte of Buffer.from(text)) counter.feed(Buffer.from([byte]));
    counter.end();
    expect([0, 3, 5, 7, 9].map((offset) => counter.lineAt(offset))).toEqual([1, 2, 3, 4, 5]);
  });
});

/** Line of each record as the import runner computes it: the line where the previous record ended. */
async function recordLines(text: string, chunkSize: number): Promise<[string, number][]> {
  const counter = new LineCounter();
  const parser = parse(csvOptions());
  const bytes = Buffer.from(text);
  const out: [string, number][] = [];
  const reading = (async () => {
    let previousEnd = 0;
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      const line = counter.lineAt(previousEnd);
      previousEnd = info.bytes;
      if (!isBlank(record)) out.push([record[0] ?? '', line]);
    }
  })();
  for (let i = 0; i < bytes.length; i += chunkSize) {
    const chunk = bytes.subarray(i, i + chunkSize);
    counter.feed(chunk);
    parser.write(chunk);
  }
  counter.end();
  parser.end();
  await reading;
  return out;
}

describe('record line numbers', () => {
  const text = '\ufeffemail,note\r\na,"x\r\ny"\r\n\r\nb,"\r\n\r\n"\r\nc,ä\r\nd,z';
  it.each([1, 2, 7, 1024])('are the line each record starts on, in chunks of %i bytes', async (size) => {
    expect(await recordLines(text, size)).toEqual([
      ['email', 1],
      ['a', 2],
      ['b', 5],
      ['c', 8],
      ['d', 9],
    ]);
  });
});
