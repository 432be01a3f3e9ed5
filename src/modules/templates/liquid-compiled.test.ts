import fc from 'fast-check';
import { Liquid } from 'liquidjs';
import { describe, expect, it } from 'vitest';
import { createLiquidCompiler } from './liquid-compiled.js';
import { createLiquidEngine } from './liquid-engine.js';

/**
 * The compiled renderer against liquidjs itself: random templates from a
 * grammar of the compiled subset, rendered against random data, must give
 * byte-identical output (or both throw) on the HTML engine (escaping) and the
 * text engine, strict and lenient.
 */

type Outcome = { output: string } | { error: string };

function attempt(render: () => string): Outcome {
  try {
    return { output: render() };
  } catch (error) {
    return { error: String(error) };
  }
}

const seq = (...parts: (string | fc.Arbitrary<string>)[]): fc.Arbitrary<string> =>
  fc.tuple(...parts.map((p) => (typeof p === 'string' ? fc.constant(p) : p))).map((xs) => xs.join(''));
const trim = fc.constantFrom('', '', '-');
const tag = (...body: (string | fc.Arbitrary<string>)[]) => seq('{%', trim, ' ', ...body, ' ', trim, '%}');

// HTML text with what escaping and whitespace control care about; no `{`, so it never opens a tag.
const text = fc.string({
  unit: fc.constantFrom(
    'a',
    'B',
    ' ',
    ' ',
    '\n',
    '\t',
    '<',
    '>',
    '&',
    '"',
    "'",
    'é',
    '😀',
    '中',
    '}',
    '%',
    '-',
  ),
  maxLength: 8,
});

// Mostly names the data has; some it never has, and the prototype names `ownPropertyOnly` must hide.
const root = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('a', 'b', 'n', 'f', 's', 'arr', 'obj', 'nested', 'contact', 'x', 'empty_list'),
  },
  { weight: 2, arbitrary: fc.constantFrom('i', 'item', 'y', 'forloop') },
  { weight: 1, arbitrary: fc.constantFrom('missing', 'toString', 'constructor', '__proto__') },
  // `include 's0' with x` names the value after the snippet.
  { weight: 1, arbitrary: fc.constantFrom('s0', 's1') },
);
const segment = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('.name', '.k', '.size', '.first', '.last', '[0]', '[-1]', '["k"]', '.email'),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '.attributes',
      '.tags',
      '[1]',
      "['size']",
      '[a]',
      '[i]',
      '[n]',
      '.0',
      '.length',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom('.index', '.index0', '.rindex0', '.first', '.last', '.length', '.name'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '.constructor',
      '.__proto__',
      '.toString',
      '.valueOf',
      '.next',
      '.hasOwnProperty',
    ),
  },
);
// The lenient runs use any path; the strict ones paths the data has, or almost every render would stop at an unknown variable.
const anyPath = fc.oneof(
  {
    weight: 9,
    arbitrary: seq(
      root,
      fc.array(segment, { maxLength: 2 }).map((s) => s.join('')),
    ),
  },
  // Properties of literals: liquidjs reads them from the literal itself (a drop for nil, empty, blank).
  fc.constantFrom(
    '"abc".size',
    '(1..3).last',
    'nil.x',
    'empty.size',
    'blank.first',
    '"é😀".first',
    '(1..4)[1]',
  ),
);
const knownPath = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('a', 'b', 'n', 'f', 's', 'arr', 'obj', 'nested', 'x', 'i', 'empty_list'),
  },
  fc.constantFrom('contact.email', 'arr.size', 's.size', 'empty_list.size', 'obj.size'),
);
const literal = fc.constantFrom(
  '"x"',
  `'<a&"b>'`,
  '"it\'s"',
  '""',
  '"é😀"',
  '", "',
  '"name"',
  '0',
  '1',
  '-2',
  '3.5',
  '0.1',
  'true',
  'false',
  'nil',
  'null',
  'empty',
  'blank',
  '(1..3)',
  '(0..n)',
  '(n..2)',
  '(a..2)',
);
const loopModifiers = fc
  .subarray(['limit: 2', 'offset: 1', 'offset: continue', 'reversed', 'limit: n', 'offset: a'])
  .map((m) => m.join(' '));

const variable = fc.constantFrom('x', 'y', 'a', 'contact');

/** Expressions over `path`: literals, comparisons, filters with arguments. */
function expressions(path: fc.Arbitrary<string>) {
  const primary = fc.oneof({ weight: 3, arbitrary: path }, { weight: 2, arbitrary: literal });
  const comparison = fc.oneof(
    { weight: 2, arbitrary: primary },
    seq(primary, ' ', fc.constantFrom('==', '!=', '>', '<', '>=', '<=', 'contains'), ' ', primary),
  );
  const condition = fc.oneof(
    { weight: 3, arbitrary: comparison },
    seq('not ', comparison),
    seq(comparison, ' and ', comparison),
    seq(comparison, ' or ', comparison),
    seq(comparison, ' and ', comparison, ' or ', comparison),
    seq(comparison, ' or ', comparison, ' and ', comparison),
  );
  const filter = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        'upcase',
        'downcase',
        'capitalize',
        'size',
        'first',
        'last',
        'escape',
        'escape_once',
        'raw',
        'strip_html',
        'newline_to_br',
        'strip',
        'reverse',
        'sort',
        'uniq',
        'compact',
        'abs',
        'round',
        'url_encode',
        'json',
        'sum',
        'map: "name"',
        'where: "name"',
        'sort: "name"',
        'where_exp: "item", "item.name == \'x\'"',
        'date: "%Y-%m-%d %H:%M"',
        'default: "fallback", allow_false: true',
      ),
    },
    seq(
      fc.constantFrom(
        'append',
        'prepend',
        'default',
        'join',
        'split',
        'plus',
        'minus',
        'times',
        'divided_by',
        'modulo',
        'round',
        'truncate',
        'truncatewords',
        'remove',
        'concat',
        'at_least',
        'push',
        'date',
      ),
      ': ',
      primary,
    ),
    seq(fc.constantFrom('replace', 'slice', 'where'), ': ', primary, ', ', primary),
  );
  const filters = fc.array(filter, { maxLength: 3 }).map((fs) => fs.map((f) => ` | ${f}`).join(''));
  const filtered = seq(fc.oneof({ weight: 4, arbitrary: primary }, comparison), filters);
  const output = seq('{{', trim, ' ', filtered, ' ', trim, '}}');
  const collection = fc.oneof(
    path,
    fc.constantFrom('(1..3)', '(0..n)', '(n..3)', 'arr', 's', 'obj', 'empty_list', 'nested', 'contact.tags'),
  );
  return { primary, condition, filtered, output, collection };
}

/** Template source over the compiled subset; `snippets` are the names include and render may use. */
function grammar(snippets: string[], path: fc.Arbitrary<string>) {
  const { primary, condition, filtered, output, collection } = expressions(path);
  const liquidLines = fc
    .array(
      fc.oneof(
        seq('echo ', filtered),
        seq('assign x = ', filtered),
        seq('if ', condition, '\necho "yes"\nelse\necho ', filtered, '\nendif'),
        seq('for i in ', collection, '\necho i\nendfor'),
      ),
      { minLength: 1, maxLength: 3 },
    )
    .map((lines) => lines.join('\n'));
  const snippetTags =
    snippets.length === 0
      ? []
      : [
          tag(
            'include ',
            fc.constantFrom(...snippets).map((name) => `'${name}'`),
            fc.constantFrom('', ', x: a', ' with arr', ', y: "<y>", x: n'),
          ),
          tag(
            'render ',
            fc.constantFrom(...snippets).map((name) => `'${name}'`),
            fc.constantFrom(
              '',
              ', x: a, contact: contact',
              ' with nested as x',
              ' with b',
              ' for arr as item',
              ' for (1..3) as i, x: "<x>"',
            ),
          ),
        ];
  const leaf = (inLoop: boolean) =>
    fc.oneof(
      { weight: 6, arbitrary: text },
      { weight: 8, arbitrary: output },
      { weight: 2, arbitrary: tag('assign ', variable, ' = ', filtered) },
      { weight: 2, arbitrary: tag('echo ', filtered) },
      seq('{% raw %}', fc.constantFrom('{{ x }}', '{% if %}', 'a < b', ''), '{% endraw %}'),
      seq('{% comment %}', text, '{{ x }}{% endcomment %}'),
      tag('# ', fc.constantFrom('a note', '')),
      seq('{% liquid\n', liquidLines, '\n%}'),
      // Outside a loop, break and continue stop the whole template: rare, or most output would be cut.
      { weight: inLoop ? 2 : 0, arbitrary: tag(fc.constantFrom('break', 'continue')) },
      ...snippetTags,
    );
  const blocks = new Map<string, fc.Arbitrary<string>>();
  function block(depth: number, inLoop: boolean): fc.Arbitrary<string> {
    const key = `${depth}:${inLoop}`;
    let found = blocks.get(key);
    if (!found) {
      found = fc.array(node(depth, inLoop), { minLength: 1, maxLength: 4 }).map((xs) => xs.join(''));
      blocks.set(key, found);
    }
    return found;
  }
  function node(depth: number, inLoop: boolean): fc.Arbitrary<string> {
    if (depth <= 1) return leaf(inLoop);
    const inner = block(depth - 1, inLoop);
    const orElse = fc.option(seq(tag('else'), inner), { nil: '' });
    return fc.oneof(
      { weight: 5, arbitrary: leaf(inLoop) },
      seq(
        tag('if ', condition),
        inner,
        fc.array(seq(tag('elsif ', condition), inner), { maxLength: 2 }).map((xs) => xs.join('')),
        orElse,
        tag('endif'),
      ),
      seq(
        tag('unless ', condition),
        inner,
        fc.option(seq(tag('elsif ', condition), inner), { nil: '' }),
        orElse,
        tag('endunless'),
      ),
      seq(
        tag('case ', filtered),
        fc
          .array(
            seq(
              tag('when ', primary, fc.option(seq(fc.constantFrom(', ', ' or '), primary), { nil: '' })),
              inner,
            ),
            { minLength: 1, maxLength: 3 },
          )
          .map((xs) => xs.join('')),
        orElse,
        tag('endcase'),
      ),
      {
        weight: 2,
        arbitrary: seq(
          tag('for ', fc.constantFrom('i', 'item', 'x'), ' in ', collection, ' ', loopModifiers),
          block(depth - 1, true),
          orElse,
          tag('endfor'),
        ),
      },
      // A second loop over the same collection can go on where the first stopped (`offset: continue`).
      fc
        .tuple(collection, loopModifiers, block(depth - 1, true))
        .map(
          ([over, modifiers, body]) =>
            `{% for i in ${over} ${modifiers} %}${body}{% endfor %}{% for i in ${over} offset: continue %}{{ i }}{% endfor %}`,
        ),
      seq(tag('capture ', variable), inner, tag('endcapture')),
    );
  }
  return fc.oneof(block(3, false), {
    weight: 1,
    arbitrary: seq(block(2, false), tag('break'), block(2, false)),
  });
}

const stringValue = fc.oneof(
  fc.constantFrom(
    '',
    'x',
    'k',
    'name',
    `<b>"Tom" & 'Jerry'</b>`,
    'é😀中',
    '  padded  ',
    'a,b,c',
    '2024-03-05T10:20:30Z',
    'line\nbreak',
    '0',
    '3.5',
    '-1',
    '%Y',
  ),
  fc.string({ maxLength: 6 }),
);
const key = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('name', 'k', 'email', 'x') },
  fc.constantFrom('size', 'first', 'last', 'constructor', '0', 'toString'),
);
const { data } = fc.letrec((tie) => ({
  data: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -50, max: 50 }),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
    fc.constantFrom(0.1, -0, 1e21, 1.5e-7, 2.5, -3.75),
    stringValue,
    fc.array(tie('data'), { maxLength: 4 }),
    fc.dictionary(key, tie('data'), { maxKeys: 4, noNullPrototype: true }),
  ),
}));
const scopeArbitrary = (requireAll: boolean) =>
  fc.record(
    {
      a: data,
      b: data,
      n: fc.integer({ min: -3, max: 8 }),
      f: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e3, max: 1e3 }),
      s: stringValue,
      arr: fc.array(data, { maxLength: 5 }),
      obj: fc.dictionary(key, data, { maxKeys: 4, noNullPrototype: true }),
      nested: data,
      empty_list: fc.constant([]),
      x: data,
      i: data,
      contact: fc.record(
        {
          email: stringValue,
          attributes: fc.dictionary(key, data, { maxKeys: 3, noNullPrototype: true }),
          tags: fc.array(stringValue, { maxLength: 3 }),
        },
        { requiredKeys: ['email'] },
      ),
    },
    requireAll ? {} : { requiredKeys: [] },
  );

/** Snippets s0..s2 (each may use the ones before it, so there is no cycle), a template using them, and data. */
function cases(strictVariables: boolean) {
  const path = strictVariables ? knownPath : anyPath;
  const snippets = fc
    .tuple(grammar([], path), grammar(['s0'], path), grammar(['s0', 's1'], path))
    .map(([s0, s1, s2]) => new Map(Object.entries({ s0, s1, s2 })));
  return fc.tuple(snippets, grammar(['s0', 's1', 's2'], path), scopeArbitrary(strictVariables));
}

describe('compiled Liquid renders exactly what liquidjs renders', () => {
  for (const escapeHtml of [true, false]) {
    for (const strictVariables of [false, true]) {
      it(`${escapeHtml ? 'HTML (escaping)' : 'text'} engine, ${strictVariables ? 'strict' : 'lenient'}`, () => {
        fc.assert(
          fc.property(cases(strictVariables), ([snippets, source, scope]) => {
            const engine = createLiquidEngine({ snippets, strictVariables, escapeHtml });
            const templates = engine.parse(source);
            const compilation = createLiquidCompiler(engine).compile(templates);
            if (!compilation.ok) throw new Error(`not compiled: ${compilation.reason}`);
            const expected = attempt(() => engine.renderSync(templates, scope, { globals: scope }) as string);
            const actual = attempt(() => compilation.template.render(scope, scope));
            if ('error' in expected) expect(actual).toHaveProperty('error');
            else expect(actual).toEqual(expected);
          }),
          { numRuns: 300 },
        );
      });
    }
  }
});
