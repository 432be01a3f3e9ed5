export {
  attributeNameFor,
  type ColumnPlan,
  checkRow,
  type ImportRow,
  LineCounter,
  type Mapping,
  parseMappingJson,
  resolveMapping,
} from './csv-rows.js';
export { importTasks } from './imports.jobs.js';
export { resetImportIdSequence } from './imports.repository.js';
export { importsRoutes } from './imports.routes.js';
export {
  createImportService,
  IMPORT_TASK,
  type Import,
  type ImportOptions,
  type ImportRowError,
  type ImportService,
  type ImportWithErrors,
  MAX_STORED_ERRORS,
} from './imports.service.js';
