import { describe, expect, it } from 'vitest';
import { DomainError } from '../../lib/errors.js';
import { createTemplateCompiler, type RenderContext, RenderTimeLimitError } from './template-compiler.js';

const context: RenderContext = {
  contact: {
    email: 'ann@example.com',
    external_id: null,
    attributes: { first_name: 'Ann' },
    tags: ['vip'],
    timezone: null,
    locale: null,
    status: 'active',
  },
  lists: [{ id: 'l1', name: 'News' }],
  workspace: { name: 'Acme' },
  unsubscribe_url: 'https://example.invalid/unsubscribe?a=1&b=2',
  preferences_url: 'https://example.invalid/preferences',
  view_in_browser_url: 'https://example.invalid/view',
};

const MJML = `<mjml>
  <mj-head><mj-style inline="inline">.hi { color: #ff0000; }</mj-style></mj-head>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text css-class="hi">Hello {{ contact.attributes.first_name | default: "there" }}!</mj-text>
        <mj-text>{% if contact.tags contains "vip" %}VIP {{ contact.email }}{% else %}regular{% endif %}</mj-text>
        <mj-button href="{{ unsubscribe_url }}" title="{{ contact.email | default: "x" }}">Unsubscribe</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

async function invalid(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('template compiler', () => {
  it('compiles MJML once, keeps Liquid in text and attributes, and renders per recipient', async () => {
    const compiler = createTemplateCompiler();
    const out = await compiler.compile(
      {
        format: 'mjml',
        subject: 'Hi {{ contact.attributes.first_name }}',
        preheader: 'For {{ contact.email }}',
        body: MJML,
        text_body: null,
      },
      new Map(),
    );
    expect(compiler.stats.compiles).toBe(1);
    expect(out.html).toContain('{{ contact.attributes.first_name | default: "there" }}');
    expect(out.html).toContain('{% if contact.tags contains "vip" %}');
    expect(out.html).toContain('href="{{ unsubscribe_url }}"');
    expect(out.html).toMatch(/style="[^"]*color: ?#ff0000/);
    expect(out.text).toContain('{{ contact.attributes.first_name | default: "there" }}');
    const prepared = compiler.prepare(
      {
        subject: 'Hi {{ contact.attributes.first_name }}',
        preheader: 'For {{ contact.email }}',
        compiled_html: out.html,
        compiled_text: out.text,
        text_body: null,
        snippets: out.snippets,
      },
      { strictVariables: false },
    );
    // Every field is in the compiled subset: none is left to liquidjs.
    expect(compiler.stats.liquidFallbacks).toBe(0);
    const r = await prepared.render(context);
    expect(r.subject).toBe('Hi Ann');
    expect(r.preheader).toBe('For ann@example.com');
    expect(r.html).toContain('Hello Ann!');
    expect(r.html).toContain('VIP ann@example.com');
    expect(r.html).toContain('href="https://example.invalid/unsubscribe?a=1&amp;b=2"');
    expect(r.html).toContain('For ann@example.com</div>');
    expect(r.text).toContain('Hello Ann!');
    expect(r.text).not.toContain('For ann@example.com');
    const other = await prepared.render({
      ...context,
      contact: { ...context.contact, attributes: {}, tags: [] },
    });
    expect(other.html).toContain('Hello there!');
    expect(other.html).toContain('regular');
    expect(compiler.stats.compiles).toBe(1);
  });

  it('reports MJML errors with their line', async () => {
    const compiler = createTemplateCompiler();
    const e = await invalid(
      compiler.compile(
        {
          format: 'mjml',
          subject: 's',
          preheader: null,
          body: MJML.replace('<mj-button', '<mj-bogus /><mj-button'),
          text_body: null,
        },
        new Map(),
      ),
    );
    expect(e.code).toBe('TEMPLATE_INVALID');
    expect(e.details?.[0]).toMatchObject({ path: '/body', line: 8, tag: 'mj-bogus' });
  });

  it('reports Liquid errors with line and column, in subject too', async () => {
    const compiler = createTemplateCompiler();
    const e = await invalid(
      compiler.compile(
        {
          format: 'html',
          subject: 'Hi {{ x | nosuchfilter }}',
          preheader: null,
          body: '<p>a</p>\n  {% if x %}',
          text_body: null,
        },
        new Map(),
      ),
    );
    expect(e.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: '/subject', line: 1, column: 4 }),
        expect.objectContaining({ path: '/body', line: 2, column: 3 }),
      ]),
    );
    expect(compiler.stats.compiles).toBe(0);
  });

  it('renders snippets, never files', async () => {
    const compiler = createTemplateCompiler();
    const snippets = new Map([
      ['footer', '<p>Bye {{ contact.email }} <a href="{{ unsubscribe_url }}">unsubscribe</a></p>'],
    ]);
    const body =
      "<p>Hi</p>{% render 'footer', contact: contact, unsubscribe_url: unsubscribe_url %}{% include 'footer' %}";
    const out = await compiler.compile(
      { format: 'html', subject: 's', preheader: null, body, text_body: null },
      snippets,
    );
    const prepared = compiler.prepare(
      {
        subject: 's',
        preheader: null,
        compiled_html: out.html,
        compiled_text: out.text,
        text_body: null,
        snippets: out.snippets,
      },
      { strictVariables: true },
    );
    const r = await prepared.render(context);
    expect(r.html).toContain('Bye ann@example.com');
    expect(r.text).toContain('Bye ann@example.com');
    expect(r.text).not.toContain('<p>');
    expect(compiler.stats.liquidFallbacks).toBe(0);
    const e = await invalid(
      compiler.compile(
        {
          format: 'html',
          subject: 's',
          preheader: null,
          body: "x\n {% include '/etc/passwd' %}",
          text_body: null,
        },
        snippets,
      ),
    );
    expect(e.details?.[0]).toMatchObject({ snippet: '/etc/passwd', line: 2, column: 2 });
    expect(e.message).toContain('"/etc/passwd"');
    // A dynamic name is only known at render time, so saving refuses it, with its position.
    const refused = await invalid(
      compiler.compile(
        { format: 'html', subject: 's', preheader: null, body: 'x\n  {% include name %}', text_body: null },
        snippets,
      ),
    );
    expect(refused.details?.[0]).toMatchObject({ path: '/body', line: 2, column: 3 });
    expect(refused.message).toContain('must be a quoted name');
    // A stored version with one (saved before that check) still cannot reach the disk.
    const p = compiler.prepare(
      {
        subject: 's',
        preheader: null,
        compiled_html: '{% include name %}',
        compiled_text: '{% include name %}',
        text_body: null,
        snippets: {},
      },
      { strictVariables: false },
    );
    const err = await p.render({ ...context, name: '/etc/passwd' } as RenderContext).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).message).toContain('snippet "/etc/passwd" does not exist');
  });

  it('stops runaway loops with a clear error', async () => {
    const compiler = createTemplateCompiler();
    for (const body of [
      '{% for i in (1..10000000) %}{{ i }}{% endfor %}',
      '{% for i in (1..100000000) %}{{ i }}{% endfor %}',
      '{% for i in (1..900) %}{% for j in (1..900) %}{% for k in (1..900) %}{% endfor %}{% endfor %}{% endfor %}',
    ]) {
      const out = await compiler.compile(
        { format: 'html', subject: 's', preheader: null, body, text_body: 'x' },
        new Map(),
      );
      const p = compiler.prepare(
        {
          subject: 's',
          preheader: null,
          compiled_html: out.html,
          compiled_text: out.text,
          text_body: 'x',
          snippets: {},
        },
        { strictVariables: false },
      );
      const started = Date.now();
      const err = (await p.render(context).catch((x: unknown) => x)) as DomainError;
      expect(Date.now() - started).toBeLessThan(3000);
      expect(err.code).toBe('TEMPLATE_RENDER_FAILED');
      expect(err.message).toMatch(/loop over fewer items/);
      // Running out of time may pass on a retry (senders retry it); running out of memory will not.
      expect(err instanceof RenderTimeLimitError).toBe(/took longer than/.test(err.message));
    }
  });

  it('names the unknown variable and its position in strict mode', async () => {
    const compiler = createTemplateCompiler();
    const out = await compiler.compile(
      {
        format: 'html',
        subject: 's',
        preheader: null,
        body: '<p>\n  {{ contact.attributes.plan }}</p>',
        text_body: null,
      },
      new Map(),
    );
    const p = compiler.prepare(
      {
        subject: 's',
        preheader: null,
        compiled_html: out.html,
        compiled_text: out.text,
        text_body: null,
        snippets: {},
      },
      { strictVariables: true },
    );
    const err = (await p.render(context).catch((x: unknown) => x)) as DomainError;
    expect(err.code).toBe('TEMPLATE_RENDER_FAILED');
    expect(err.details?.[0]).toMatchObject({ variable: 'contact.attributes.plan', line: 2, column: 6 });
  });

  it('names the unknown variable where it is, in every field, in loops and snippets alike', async () => {
    const compiler = createTemplateCompiler();
    const version = {
      subject: 'Hi',
      preheader: null,
      compiled_html: 'ok',
      compiled_text: 'ok',
      text_body: 'ok',
      snippets: { foot: 'a\n  {{ nothing }}' },
    };
    const cases: [Partial<typeof version>, object][] = [
      [{ subject: 'Hi {{ contact.attributes.nope }}' }, { path: '/subject', line: 1, column: 7 }],
      [
        {
          compiled_html: '<p>\n{% for t in contact.tags %}\n  {{ t.size }}{{ contact.plan }}{% endfor %}</p>',
        },
        { path: '/body', variable: 'contact.plan', line: 3, column: 18 },
      ],
      [
        { compiled_text: "x\n {% render 'foot' %}" },
        { path: '/text', variable: 'nothing', line: 2, column: 6 },
      ],
    ];
    for (const [fields, detail] of cases) {
      const p = compiler.prepare({ ...version, ...fields }, { strictVariables: true });
      const err = (await p.render(context).catch((x: unknown) => x)) as DomainError;
      expect(err.code).toBe('TEMPLATE_RENDER_FAILED');
      expect(err.details?.[0]).toMatchObject(detail);
    }
    expect(compiler.stats.liquidFallbacks).toBe(0);
  });

  it('leaves fields outside the compiled subset to liquidjs, with the same output', async () => {
    const compiler = createTemplateCompiler();
    const p = compiler.prepare(
      {
        subject: '{% increment n %}{% increment n %} {{ contact.email }}',
        preheader: null,
        compiled_html: '<table>{% tablerow t in contact.tags %}{{ t }}{% endtablerow %}</table>',
        compiled_text: '{% for t in contact.tags %}{{ t }}{% endfor %}',
        text_body: 'x',
        snippets: {},
      },
      { strictVariables: false },
    );
    expect(compiler.stats.liquidFallbacks).toBe(2);
    // A copy: liquidjs's increment writes its counter into the scope object it is given.
    const r = await p.render({ ...context });
    expect(r.subject).toBe('01 ann@example.com');
    expect(r.html).toBe('<table><tr class="row1"><td class="col1">vip</td></tr></table>');
    expect(r.text).toBe('vip');
  });
});
