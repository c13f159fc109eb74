/**
 * The store uses the same typed sodium-native binding as the uplink protocol: one interface,
 * one loader (plain Buffers, zeroed after use; never sodium_malloc, which Electron refuses).
 */
export { sodium, wipe, type SodiumApi as StoreSodium } from '../protocol/sodium';
