export {
  ACTIVE_KEY_TTL_MS,
  createDataKeyService,
  DataKeyError,
  type DataKeyService,
  type DataKeyView,
  type WorkspaceCipher,
} from './data-keys.service.js';
export {
  type EncryptedValueSource,
  type RotationReport,
  reencryptWorkspace,
  rotateWorkspaceDataKey,
  type SourceReport,
  upgradeLegacyValues,
} from './data-rotation.js';
