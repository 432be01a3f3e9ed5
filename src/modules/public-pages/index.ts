export { type FormFields, parseFormBody } from './form-body.js';
export { publicPagesRoutes } from './public-pages.routes.js';
export {
  createPublicPagesService,
  formConsentText,
  type PageOrigin,
  type PublicPagesDeps,
  type PublicPagesService,
  type ViewRenderer,
} from './public-pages.service.js';
export { createWindowLimiter, type WindowLimiter } from './submission-limiter.js';
