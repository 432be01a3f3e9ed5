export { DataDirLockedError, lockDataDir } from './data-dir-lock.js';
export { type DatabaseHandle, type Db, openPglite, openPostgres } from './database.js';
export {
  type EncryptedColumn,
  encryptedColumn,
  pageEncryptedColumn,
  replaceEncryptedColumn,
} from './encrypted-columns.js';
export { isUniqueViolation } from './errors.js';
export { type Migration, migrate, readMigrations } from './migrate.js';
export type * from './schema.js';
