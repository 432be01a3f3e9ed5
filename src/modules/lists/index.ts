export { listsRoutes } from './lists.routes.js';
export { ListSchema, OptInSchema, VisibilitySchema } from './lists.schemas.js';
export {
  type AddMembersResult,
  createListService,
  type List,
  type ListInput,
  type ListPatch,
  type ListService,
  type ListWithCounts,
  MAX_MEMBER_ENTRIES,
  type Member,
  type MemberTargets,
  type OptIn,
  type SubscribeCounts,
  type Visibility,
} from './lists.service.js';
