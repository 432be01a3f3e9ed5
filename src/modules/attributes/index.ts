export {
  ATTRIBUTE_NAME,
  type CheckedAttributes,
  checkAttributes,
  type Definitions,
} from './attribute-values.js';
export { attributesRoutes } from './attributes.routes.js';
export {
  type AttributeDefinition,
  type AttributeService,
  createAttributeService,
} from './attributes.service.js';
