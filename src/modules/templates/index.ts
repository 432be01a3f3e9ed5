export {
  createLiquidEngine,
  DEFAULT_LIQUID_LIMITS,
  type LiquidLimits,
} from './liquid-engine.js';
export { postalFooterHtml, withPostalAddress } from './postal-footer.js';
export {
  type CompiledArtefacts,
  createTemplateCompiler,
  type PreparedTemplate,
  type RenderContext,
  type RenderedMessage,
  RenderTimeLimitError,
  type TemplateCompiler,
} from './template-compiler.js';
export { templatesRoutes } from './templates.routes.js';
export {
  createTemplateService,
  PREVIEW_URLS,
  type Snippet,
  type Template,
  type TemplateService,
  type TemplateVersion,
  type TemplateWithVersion,
} from './templates.service.js';
