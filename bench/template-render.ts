import { DEFAULT_LIQUID_LIMITS } from '../src/modules/templates/liquid-engine.js';
import {
  createTemplateCompiler,
  type PreparedTemplate,
  type RenderContext,
  type TemplateSource,
} from '../src/modules/templates/template-compiler.js';
import { CAMPAIGN_TEMPLATE } from './campaign-template.js';

/**
 * Per-recipient template rendering (subject, preheader, HTML and text part:
 * what a campaign renders for each recipient) with the compiled Liquid
 * renderer, next to liquidjs rendering the same prepared version in the same
 * run. Rounds alternate between the two so machine noise hits both alike.
 */

const RICH_TEMPLATE: TemplateSource = {
  format: 'html',
  subject:
    '{{ contact.attributes.first_name | default: "Friend" | capitalize }}, your {{ contact.attributes.plan | upcase }} picks for {{ campaign.name }}',
  preheader:
    '{% if contact.attributes.plan == "pro" %}Early access for Pro members{% else %}New arrivals and {{ contact.attributes.points | default: 0 }} points to spend{% endif %}',
  body: `<html><head><style>.price { color: #c00; } .item { margin: 8px 0; }</style></head><body>
<table width="600"><tr><td>
<h1>{% case contact.locale %}{% when "de" %}Hallo{% when "fr" %}Bonjour{% else %}Hello{% endcase %} {{ contact.attributes.first_name | default: "there" }},</h1>
{% if contact.attributes.plan == "pro" and contact.attributes.points > 100 %}
<p>You have {{ contact.attributes.points }} points: {{ contact.attributes.points | divided_by: 100 | floor }} free shipments.</p>
{% elsif contact.tags contains "vip" %}<p>As a VIP you ship free.</p>
{% else %}<p>Collect points with every order.</p>{% endif %}
<h2>Picked for you</h2>
{% for item in contact.attributes.recommendations limit: 4 %}
<div class="item"><a href="{{ item.url }}">{{ item.title | truncate: 40 }}</a>
<span class="price">{{ item.price | times: 1.19 | round: 2 }} €</span>{% if item.sale %} <b>-{{ item.discount }}%</b>{% endif %}
{% unless forloop.last %}<hr>{% endunless %}</div>
{% else %}<p>Browse our <a href="https://shop.example/new">new arrivals</a>.</p>
{% endfor %}
{% assign since = contact.attributes.member_since | date: "%d.%m.%Y" %}
<p>Member since {{ since }} · {{ contact.tags | join: ", " | default: "no tags" }}</p>
{% render 'footer', workspace: workspace, unsubscribe_url: unsubscribe_url, preferences_url: preferences_url %}
</td></tr></table></body></html>`,
  text_body: null,
};
const RICH_SNIPPETS = new Map([
  [
    'footer',
    '<p class="footer">{{ workspace.name }} · <a href="{{ preferences_url }}">Preferences</a> · <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
  ],
]);

/** Recipients like the sender builds them: contact, list, workspace, campaign and signed URLs. */
function recipients(count: number): RenderContext[] {
  return Array.from({ length: count }, (_, i) => ({
    contact: {
      id: `0193a0b2-0000-7000-8000-${String(i).padStart(12, '0')}`,
      email: `person${i}@example${i % 97}.com`,
      external_id: null,
      attributes: {
        first_name: `First${i}`,
        plan: i % 3 === 0 ? 'pro' : 'free',
        points: (i * 37) % 400,
        member_since: new Date(Date.UTC(2020, i % 12, 1 + (i % 28))).toISOString(),
        recommendations: Array.from({ length: i % 6 }, (_, j) => ({
          title: `Product ${j} for <person ${i}> & friends, a long enough title`,
          url: `https://shop.example/p/${i}-${j}?utm_source=news&utm_medium=email`,
          price: 9.99 + j * 5.5,
          sale: j % 2 === 0,
          discount: 10 + j,
        })),
      },
      tags: i % 5 === 0 ? ['vip', 'newsletter'] : ['newsletter'],
      timezone: null,
      locale: ['en', 'de', 'fr'][i % 3] as string,
      status: 'active',
    },
    lists: [{ id: '0193a0b2-0000-7000-8000-000000000001', name: 'Bench' }],
    workspace: { name: 'Shop & Co' },
    campaign: { id: '0193a0b2-0000-7000-8000-000000000002', name: 'March news' },
    unsubscribe_url: `https://herald.example/u/${'a'.repeat(80)}${i}`,
    preferences_url: `https://herald.example/p/${'b'.repeat(80)}${i}`,
    view_in_browser_url: `https://herald.example/m/${'c'.repeat(80)}${i}`,
  }));
}

// Throughput, not limits: a render that a busy machine holds up must not end the run.
const LIMITS = { ...DEFAULT_LIQUID_LIMITS, renderMs: 60_000 };

async function prepare(
  source: TemplateSource,
  snippets: ReadonlyMap<string, string>,
  compiledLiquid: boolean,
) {
  const compiler = createTemplateCompiler({ compiledLiquid, limits: LIMITS });
  const artefacts = await compiler.compile(source, snippets);
  const prepared = compiler.prepare(
    {
      subject: source.subject,
      preheader: source.preheader,
      body: source.body,
      compiled_html: artefacts.html,
      compiled_text: artefacts.text,
      text_body: source.text_body,
      snippets: artefacts.snippets,
    },
    { strictVariables: false },
  );
  return { prepared, fallbacks: compiler.stats.liquidFallbacks };
}

/** Renders recipients for about `ms` milliseconds; returns renders and seconds. */
async function round(template: PreparedTemplate, contexts: RenderContext[], ms: number) {
  let renders = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    for (let i = 0; i < 200; i++)
      await template.render(contexts[(renders + i) % contexts.length] as RenderContext);
    renders += 200;
  }
  return { renders, seconds: (performance.now() - started) / 1000 };
}

export async function benchTemplateRender(options: { seconds: number }) {
  console.log(
    '\n== Template rendering per recipient (subject, preheader, HTML, text), compiled Liquid vs liquidjs ==',
  );
  const contexts = recipients(1000);
  const cases: [string, TemplateSource, ReadonlyMap<string, string>][] = [
    [
      'campaign benchmark template',
      { format: 'html', preheader: null, text_body: null, ...CAMPAIGN_TEMPLATE },
      new Map(),
    ],
    ['rich template (case/if/for/filters/date/snippet)', RICH_TEMPLATE, RICH_SNIPPETS],
  ];
  for (const [name, source, snippets] of cases) {
    const compiled = await prepare(source, snippets, true);
    const liquidjs = await prepare(source, snippets, false);
    if (compiled.fallbacks > 0)
      throw new Error(`${name}: ${compiled.fallbacks} field(s) fell back to liquidjs`);
    for (const context of contexts) {
      const [a, b] = [await compiled.prepared.render(context), await liquidjs.prepared.render(context)];
      if (JSON.stringify(a) !== JSON.stringify(b))
        throw new Error(`${name}: compiled output differs from liquidjs`);
    }
    const totals = { compiled: { renders: 0, seconds: 0 }, liquidjs: { renders: 0, seconds: 0 } };
    const rounds = 6;
    for (let r = 0; r < rounds; r++) {
      for (const [key, template] of [
        ['compiled', compiled.prepared],
        ['liquidjs', liquidjs.prepared],
      ] as const) {
        const result = await round(template, contexts, (options.seconds * 1000) / rounds);
        totals[key].renders += result.renders;
        totals[key].seconds += result.seconds;
      }
    }
    const rate = (t: { renders: number; seconds: number }) => t.renders / t.seconds;
    const line = (label: string, t: { renders: number; seconds: number }) =>
      `  ${label} ${rate(t).toFixed(0).padStart(7)} renders/s  ${((1e6 * t.seconds) / t.renders).toFixed(1).padStart(6)} µs/recipient`;
    console.log(`${name}:`);
    console.log(line('compiled', totals.compiled));
    console.log(line('liquidjs', totals.liquidjs));
    console.log(`  ratio    ${(rate(totals.compiled) / rate(totals.liquidjs)).toFixed(2)}x`);
  }
}
