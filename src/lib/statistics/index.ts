/**
 * Herald's statistics library: pure functions for A/B/n winner selection (frequentist
 * and Bayesian), Thompson-sampling bandit splits and engagement prediction. No I/O, no
 * dependencies; every random quantity comes from a seeded `Random`.
 */
export {
  type ArmComparison,
  type BetaDistribution,
  betaPosterior,
  compareBetaArms,
  credibleInterval,
  expectedLoss,
  type MonteCarloOptions,
  type NormalArm,
  probabilityBBeatsA,
  probabilityToBeBest,
  probabilityToBeBestNormal,
} from './bayes.js';
export {
  betaCdf,
  betaQuantile,
  logBeta,
  logGamma,
  normalCdf,
  normalQuantile,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTQuantile,
  studentTTail,
} from './distributions.js';
export {
  auc,
  brierScore,
  type CalibrationBin,
  calibrationBins,
  evaluate,
  logLoss,
  type ModelEvaluation,
} from './evaluation.js';
export { type ConversionGroup, compareGroups, type GroupFigures, type Lift } from './lift.js';
export {
  evaluateModel,
  fitLogisticRegression,
  type LogisticModel,
  type LogisticRegressionOptions,
  predictProbability,
} from './logistic-regression.js';
export {
  meanInterval,
  type SampleSummary,
  summarize,
  summarizeValues,
  type WelchTest,
  welchTTest,
} from './means.js';
export {
  bonferroniAdjust,
  holmAdjust,
  type Interval,
  type TwoProportionTest,
  twoProportionZTest,
  wilsonInterval,
} from './proportions.js';
export { createRandom, type Random } from './random.js';
export { thompsonChoose } from './thompson.js';
