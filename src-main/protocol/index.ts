/**
 * The uplink protocol (docs/uplink.md): plain Node, no I/O, shared by the console and the
 * supplier-cloud package. Import from here rather than from the individual files.
 */
export * from './ack';
export * from './audit-head';
export * from './canonical';
export * from './encoding';
export * from './envelope';
export * from './header';
export * from './keys';
export * from './module-health';
export * from './payload';
export * from './plant-report';
export * from './plain';
export * from './pseudonym';
export * from './recommendation';
export * from './recommendation-box';
export * from './recommendation-report';
export * from './refusal';
export * from './rotation';
export * from './topics';
export { blake2b, randomBytes, wipe } from './sodium';
