import { SETTINGS, type SettingSpec } from './settings.js';

/** The configuration table in the README, generated from SETTINGS (a test keeps the README in sync). */
export function settingsMarkdownTable(): string {
  const lines = [
    '| Environment variable | Config file key | Default | Meaning |',
    '| --- | --- | --- | --- |',
  ];
  for (const [key, spec] of Object.entries(SETTINGS) as [string, SettingSpec][]) {
    const fallback = spec.default === undefined ? '' : `\`${String(spec.default)}\``;
    lines.push(`| \`${spec.env}\` | \`${key}\` | ${fallback} | ${spec.description} |`);
  }
  return lines.join('\n');
}
