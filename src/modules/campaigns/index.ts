export { campaignsRoutes } from './campaigns.routes.js';
export {
  type Campaign,
  type CampaignService,
  type CampaignSettings,
  createCampaignService,
} from './campaigns.service.js';
