export { looksLikeJwt } from './access-tokens.js';
export { oauthClientsRoutes } from './oauth-clients.routes.js';
export {
  type CreatedOAuthClient,
  createOAuthClientService,
  type IssuedAccessToken,
  type OAuthClient,
  type OAuthClientService,
  OAuthError,
} from './oauth-clients.service.js';
