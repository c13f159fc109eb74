/** Every error the core raises on purpose has one of these codes. */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_UNREADABLE'
  | 'PROFILE_INVALID'
  | 'MODBUS_TIMEOUT'
  | 'MODBUS_EXCEPTION'
  | 'MODBUS_CONNECT'
  | 'MODBUS_CLOSED'
  | 'MODBUS_MALFORMED'
  /** An RTU answer whose CRC-16 does not match (noise, a collision on the bus). */
  | 'MODBUS_CRC'
  /** Exception 10 or 11: the gateway cannot reach the unit behind it. */
  | 'MODBUS_GATEWAY'
  /** A value the uplink protocol cannot encode (key size, sequence or time out of range, sample outside its batch). */
  | 'PROTOCOL_INVALID'
  /** A received uplink batch or key announcement was refused; the message names the refusal reason. */
  | 'UPLINK_REFUSED'
  /** A firmware key, signature, root, manifest or bundle that cannot be read (docs/firmware.md). */
  | 'FIRMWARE_INVALID'
  /** More image bytes arrived than the firmware manifest announced. */
  | 'FIRMWARE_IMAGE_TOO_LARGE'
  /** A firmware release was refused; the message names the refusal reason. */
  | 'FIRMWARE_REFUSED'
  | 'DECODE_FAILED'
  | 'ENCODE_FAILED'
  | 'NOT_FOUND'
  | 'BAD_REQUEST'
  | 'FORBIDDEN'
  /** Nobody is signed in, and the console shows nothing without sign-in. */
  | 'UNAUTHENTICATED'
  /** A change must be confirmed with the signed-in account's PIN, and none was given. */
  | 'PIN_REQUIRED'
  | 'BAD_PIN'
  /** Too many wrong passwords or PINs: wait, or ask an administrator. */
  | 'LOCKED_OUT'
  | 'UNAVAILABLE'
  | 'INTERNAL';

/** The one error base: a string-literal code, a message a person can act on, the cause kept. */
export class ConsoleError extends Error {
  override readonly name = 'ConsoleError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Turns anything thrown into `{code, message}` without leaking stack traces to callers. */
export function toErrorInfo(err: unknown): { code: string; message: string } {
  if (err instanceof ConsoleError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: 'INTERNAL', message: err.message };
  return { code: 'INTERNAL', message: String(err) };
}

/** For exhaustive switches: the compiler proves this is unreachable. */
export function assertNever(value: never, what = 'value'): never {
  throw new ConsoleError('INTERNAL', `Unexpected ${what}: ${JSON.stringify(value)}`);
}
