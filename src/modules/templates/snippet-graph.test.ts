import { describe, expect, it } from 'vitest';
import { walkSnippets } from './snippet-graph.js';

const body = (source: string) => [{ field: 'body', source }];

describe('walkSnippets', () => {
  it('finds nested snippets once each, deep and diamond-shaped, without errors', () => {
    const available = new Map<string, string>();
    // s0 -> s1 -> ... -> s199, and every level also includes the shared leaf.
    for (let i = 0; i < 200; i++) {
      available.set(`s${i}`, `L${i} {% render 'leaf' %}${i < 199 ? `{% render 's${i + 1}' %}` : ''}`);
    }
    available.set('leaf', 'leaf');
    const { used, errors } = walkSnippets(body("{% render 's0' %}"), available, { reportUnknown: true });
    expect(errors).toEqual([]);
    expect(Object.keys(used)).toHaveLength(201);
  });

  it('reports a cycle through other snippets with its path and where the root enters it', () => {
    const available = new Map([
      ['a', "A {% render 'b' %}"],
      ['b', "B\n  {% include 'a' %}"],
    ]);
    const { errors } = walkSnippets(body("hello\n {% render 'a' %}"), available, { reportUnknown: true });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ path: '/body', line: 2, column: 2, cycle: ['a', 'b', 'a'] });
    expect(errors[0]?.message).toContain('snippet include cycle a -> b -> a');
    expect(errors[0]?.message).toContain('snippet "b" includes "a" at line 2, column 3');
  });

  it('reports a snippet that includes itself, when saving it and when a template uses it', () => {
    const available = new Map([['a', "x {% render 'a' %}"]]);
    const saving = walkSnippets([{ field: 'source', source: "x {% render 'a' %}" }], available, {
      self: 'a',
      reportUnknown: false,
    });
    expect(saving.errors).toHaveLength(1);
    expect(saving.errors[0]).toMatchObject({ path: '/source', line: 1, column: 3, cycle: ['a', 'a'] });
    const using = walkSnippets(body("{% render 'a' %}"), available, { reportUnknown: true });
    expect(using.errors[0]?.message).toContain('cycle a -> a');
  });

  it('does not call a repeated but acyclic include a cycle', () => {
    const available = new Map([
      ['a', "{% render 'b' %}{% render 'b' %}"],
      ['b', 'B'],
    ]);
    const { errors } = walkSnippets(body("{% render 'a' %}{% render 'b' %}"), available, {
      reportUnknown: true,
    });
    expect(errors).toEqual([]);
  });

  it('reports unknown snippets for templates only, and dynamic snippet names always', () => {
    const available = new Map([['a', "{% render 'missing' %}"]]);
    const template = walkSnippets(body("{% render 'a' %}"), available, { reportUnknown: true });
    expect(template.errors[0]).toMatchObject({ path: '/snippets/a', snippet: 'missing' });
    const snippet = walkSnippets([{ field: 'source', source: "{% render 'missing' %}" }], available, {
      self: 'n',
      reportUnknown: false,
    });
    expect(snippet.errors).toEqual([]);
    const dynamic = walkSnippets(body('{%- render footer_name %}'), available, { reportUnknown: true });
    expect(dynamic.errors[0]?.message).toContain('must be a quoted name');
  });

  it('follows layouts like includes, and accepts layout none', () => {
    const available = new Map([['frame', '<div>{% block content %}{% endblock %}</div>']]);
    const { used, errors } = walkSnippets(
      body("{% layout 'frame' %}{% block content %}Hi{% endblock %}"),
      available,
      { reportUnknown: true },
    );
    expect(errors).toEqual([]);
    expect(Object.keys(used)).toEqual(['frame']);
    expect(walkSnippets(body('{% layout none %}x'), available, { reportUnknown: true }).errors).toEqual([]);
    expect(walkSnippets(body('{% layout name %}x'), available, { reportUnknown: true }).errors).toHaveLength(
      1,
    );
  });
});
