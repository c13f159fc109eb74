/**
 * The reference supplier cloud as a library, for the demo plant (in-process receiver) and
 * tests. The command line is `cli.ts`; the protocol itself lives in src-main/protocol.
 */
export { runSupplierCloudCli } from './cli';
export { startReceiver, type Receiver, type ReceiverOptions, type ReceiverStats } from './receiver';
export {
  loadReceiverConfig,
  resolveReceiverConfig,
  ReceiverConfigSchema,
  type ReceiverConfigInput,
  type ResolvedReceiverConfig,
  type RegisteredPlant,
} from './config';
export { generateSupplierKeys, writePlantProvisioning, type KeygenResult } from './keygen';
export { KEY_FILES, readCloudKeyring, readSupplierSigner } from './keyfiles';
export { ProvisioningSchema, readProvisioning, type Provisioning } from './provisioning';
export { rotateCloudKey, republishAnnouncement, publishAnnouncement, parseDuration, type RotateResult } from './rotate';
export { openCloudStore, type CloudStore, type PlantStatus } from './store';
export { formatEvent, eventJson, type ReceiverEvent } from './events';
export { GAP_LABEL } from './gap-notice';
export { runRecommendCommand, demoConfig } from './recommend';
export { recoHistory, formatRecoHistory, type RecoHistory } from './reports';
export { sendRecommendation, newRecommendationId, plantBoxKey } from './reco-send';
export { createProposer, builtinRuleModel, type Proposer, type ProposerOptions } from './proposer';
export {
  evaluateTuningRule,
  isOpen,
  ruleModelFromProfile,
  DEFAULT_RULE_OPTIONS,
  type RuleModel,
  type RuleOptions,
  type Proposal,
} from './rules';
export type { RecoStore, SentRecommendation, StoredReport } from './reco-store';
