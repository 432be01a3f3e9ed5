export { type Config, ConfigError, type ConfigSources, loadConfig } from './config.js';
export { SETTINGS, type SettingKey, type SettingSpec } from './settings.js';
export { settingsMarkdownTable } from './settings-table.js';
