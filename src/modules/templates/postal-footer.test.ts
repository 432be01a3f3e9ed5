import { describe, expect, it } from 'vitest';
import { postalFooterHtml, withPostalAddress } from './postal-footer.js';

const parts = (html: string, text: string, snippets: Record<string, string> = {}) => ({
  compiled_html: html,
  compiled_text: text,
  snippets,
});

describe('withPostalAddress', () => {
  it('changes nothing without an address', () => {
    expect(withPostalAddress(parts('<p>Hi</p>', 'Hi'), null)).toEqual({
      compiled_html: '<p>Hi</p>',
      compiled_text: 'Hi',
    });
    expect(withPostalAddress(parts('<p>Hi</p>', 'Hi'), '')).toEqual({
      compiled_html: '<p>Hi</p>',
      compiled_text: 'Hi',
    });
  });

  it('puts the escaped footer before </body> and the address after the text', () => {
    const result = withPostalAddress(
      parts('<html><body><p>Hi</p></BODY></html>', 'Hi\n\n'),
      'A & B\n<Street> 1',
    );
    expect(result.compiled_html).toBe(
      `<html><body><p>Hi</p>${postalFooterHtml('A & B\n<Street> 1')}</BODY></html>`,
    );
    expect(postalFooterHtml('A & B\n<Street> 1')).toContain('A &amp; B<br>&lt;Street&gt; 1</div>');
    expect(result.compiled_text).toBe('Hi\n\n--\nA & B\n<Street> 1\n');
  });

  it('appends at the end of HTML without a body element', () => {
    expect(withPostalAddress(parts('<p>Hi</p>', 'Hi'), 'Street 1').compiled_html).toBe(
      `<p>Hi</p>${postalFooterHtml('Street 1')}`,
    );
  });

  it('leaves each part that shows the address alone, through the variable, a snippet or the text itself', () => {
    const viaVariable = withPostalAddress(parts('<p>{{ workspace.postal_address }}</p>', 'Hi'), 'Street 1');
    expect(viaVariable.compiled_html).toBe('<p>{{ workspace.postal_address }}</p>');
    expect(viaVariable.compiled_text).toBe('Hi\n\n--\nStreet 1\n');

    const viaBracket = withPostalAddress(parts('<p>Hi</p>', "{{ workspace['postal_address'] }}"), 'Street 1');
    expect(viaBracket.compiled_text).toBe("{{ workspace['postal_address'] }}");
    expect(viaBracket.compiled_html).toContain('herald-postal-address');

    const viaSnippet = withPostalAddress(
      parts("{% render 'footer' %}", "{% render 'footer' %}", { footer: '{{workspace.postal_address}}' }),
      'Street 1',
    );
    expect(viaSnippet).toEqual({
      compiled_html: "{% render 'footer' %}",
      compiled_text: "{% render 'footer' %}",
    });

    const written = withPostalAddress(
      parts('<p>A &amp; B<br>Street 1</p>', 'A & B\nStreet 1'),
      'A & B\nStreet 1',
    );
    expect(written).toEqual({
      compiled_html: '<p>A &amp; B<br>Street 1</p>',
      compiled_text: 'A & B\nStreet 1',
    });
  });

  it('does not take another variable for the address', () => {
    const result = withPostalAddress(
      parts('<p>{{ workspace.name }}</p>', '{{ postal_address }}'),
      'Street 1',
    );
    expect(result.compiled_html).toContain('herald-postal-address');
    expect(result.compiled_text).toContain('Street 1');
  });
});
