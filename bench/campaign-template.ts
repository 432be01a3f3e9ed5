/** The template the campaign-send benchmark sends, shared with the template-render benchmark so both measure the same Liquid. */
export const CAMPAIGN_TEMPLATE = {
  subject: 'News for {{ contact.attributes.first_name | default: "you" }}',
  body:
    '<h1>Hello {{ contact.attributes.first_name | default: "there" }}</h1>' +
    '<p>This month: {% for i in (1..3) %}item {{ i }}, {% endfor %}and more.</p>'.repeat(4) +
    '<p><a href="{{ view_in_browser_url }}">View online</a> · <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
};
