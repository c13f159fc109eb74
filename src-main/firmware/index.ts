/**
 * Firmware trust (docs/firmware.md): minisign-compatible signatures, the pinned k-of-n root and
 * its rotation, manifests, image checks and release bundles. Plain Node and libsodium only (no
 * electron, libsql or mqtt): the console, the supplier CLI and the device agent all import it.
 */
export * from './bundle';
export { FIRMWARE_MAX_DOCUMENT_BYTES } from './document';
export * from './image';
export * from './manifest';
export * from './minisign';
export * from './refusal';
export * from './root';
export { countSignatures, namedKeys, type NamedKey } from './threshold';
