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
export { oidcRoutes } from './oidc.routes.js';
export { createOidcClient, type OidcClient } from './oidc-client.js';
export {
  createOidcProviderService,
  type OidcProvider,
  type OidcProviderService,
} from './oidc-providers.service.js';
export {
  createOidcSignIn,
  type OidcIdentity,
  type OidcSessionStarter,
  type OidcSignIn,
} from './oidc-sign-in.service.js';
