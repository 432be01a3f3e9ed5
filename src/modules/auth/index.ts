export {
  type Actor,
  type ApiKey,
  type ApiKeyService,
  type CreatedApiKey,
  createApiKeyService,
  hashSecret,
  type Principal,
} from './api-keys.service.js';
export { authRoutes } from './auth.routes.js';
export { ScopeSchema } from './auth.schemas.js';
export { ALL_SCOPES, grants, isScope, SCOPES, type Scope } from './scopes.js';
