/**
 * MQTT 5 connections of the supplier cloud (receivers and `rotate-key`): TLS with server
 * verification unless plain TCP was explicitly allowed, username/password from the config.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { ConsoleError } from '../src-main/core/errors';
import { randomBytes, toHex } from '../src-main/protocol';
import type { ResolvedReceiverConfig } from './config';

/** mqtt.js options for the configured broker. */
export function brokerOptions(
  broker: ResolvedReceiverConfig['broker'],
  clientId: string,
  extra: Partial<IClientOptions> = {},
): IClientOptions {
  const url = new URL(broker.url);
  const tls = url.protocol === 'mqtts:';
  return {
    protocol: tls ? 'mqtts' : 'mqtt',
    host: url.hostname,
    port: url.port ? Number(url.port) : tls ? 8883 : 1883,
    protocolVersion: broker.protocolVersion,
    clientId,
    keepalive: broker.keepaliveSeconds,
    connectTimeout: 10_000,
    ...(tls ? { rejectUnauthorized: true } : {}),
    ...(broker.ca ? { ca: broker.ca } : {}),
    ...(broker.servername ? { servername: broker.servername } : {}),
    ...(broker.username !== undefined ? { username: broker.username } : {}),
    ...(broker.password !== undefined ? { password: broker.password } : {}),
    ...extra,
  };
}

/** A client id unique to this process and purpose (MQTT allows 23 characters everywhere). */
export function clientIdFor(prefix: string): string {
  return `${prefix}-${toHex(randomBytes(6))}`.slice(0, 64);
}

/** Connects, resolving when the broker accepted us; rejects with a readable reason (and gives up). */
export function connectOnce(options: IClientOptions, prepare?: (client: MqttClient) => void): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(options);
    // Before the first packet: a resumed session may deliver messages right after CONNACK.
    prepare?.(client);
    const done = (): void => {
      clearTimeout(timer);
      client.removeListener('connect', ok);
      client.removeListener('error', fail);
    };
    const fail = (err: Error): void => {
      done();
      client.end(true);
      reject(
        new ConsoleError(
          'UNAVAILABLE',
          `Cannot connect to the broker ${options.protocol}://${options.host}:${options.port}: ${err.message}`,
          { cause: err },
        ),
      );
    };
    const ok = (): void => {
      done();
      resolve(client);
    };
    // mqtt.js reports some failures (a refused TCP connection while it retries) only as 'close'.
    const timer = setTimeout(() => fail(new Error('no CONNACK within 10 s')), 10_000);
    client.once('connect', ok);
    client.once('error', fail);
  });
}
