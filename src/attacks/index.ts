/**
 * The seven backdoor attacks of the REFINE experiments (docs/attacks.md), registered by name:
 * `attacks.get('wanet').create({ h, w, c }, { target: 0 })`, `attacks.names()`.
 */
export * from './common.js';
export * from '../data/geometry.js';
export { BadNets, badnets, badnetsTrigger, applyBadnets, BADNETS_CIFAR_PATCH } from './badnets.js';
export { Blended, blended, blendedPattern, BLENDED_PATTERN_SEED } from './blended.js';
export { WaNet, wanet, wanetField, warpImage, bicubicResize } from './wanet.js';
export { PhysicalBA, physicalBA } from './physical-ba.js';
export { BATT, batt } from './batt.js';
export { LabelConsistent, labelConsistent, pgdAttack, type LcContext, type PgdOptions } from './label-consistent.js';
export { AdaptivePatch, adaptivePatch, adaptiveTriggers, adaptiveTriggers32, ADAPTIVE_TRIGGER_NAMES } from './adaptive-patch.js';
