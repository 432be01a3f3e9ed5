export {
  parseShopify,
  parseWooCommerce,
  SHOP_TOPICS,
  type ShopFact,
  ShopPayloadError,
} from './shop-payloads.js';
export { shopSecretPurpose } from './shop-secrets.js';
export { signBody, verifyBodySignature } from './shop-signatures.js';
export { createShopWebhooks, type ShopWebhookOutcome, type ShopWebhooks } from './shop-webhooks.js';
export { shopsRoutes, shopWebhookRoutes } from './shops.routes.js';
export {
  createShopService,
  type ShopConnection,
  type ShopConnectionInput,
  type ShopService,
  webhookPath,
} from './shops.service.js';
