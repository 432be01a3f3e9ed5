export {
  attributeColumn,
  BUILTIN_COLUMNS,
  CONTENT_TYPES,
  type ExportFormat,
  TAG_SEPARATOR,
} from './contact-format.js';
export { exportsRoutes } from './exports.routes.js';
export {
  type ContactExport,
  createExportService,
  type ExportOptions,
  type ExportService,
} from './exports.service.js';
