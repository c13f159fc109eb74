/** The MQTT link over an injected fake client: states, birth and last will, a bounded window, the rate limit, reconnect with backoff. */
import { EventEmitter } from 'node:events';
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src-main/core/log';
import { describeLinkError, MqttLink, PublishError, type MqttLinkOptions } from '../../src-main/uplink/mqtt-link';

class FakeClient extends EventEmitter {
  connected = false;
  stream = { getPeerCertificate: () => ({ fingerprint256: 'AA:BB' }) };
  published: { topic: string; payload: string; retain: boolean; cb: (err?: Error) => void }[] = [];
  subscribed: string[] = [];
  ended = false;
  constructor(readonly options: IClientOptions) {
    super();
  }
  publish(topic: string, payload: Buffer | string, opts: { retain?: boolean }, cb: (err?: Error) => void): this {
    this.published.push({ topic, payload: payload.toString(), retain: opts.retain ?? false, cb });
    return this;
  }
  subscribe(topic: string, _opts: unknown, cb: (err: Error | null, granted: { qos: number }[]) => void): this {
    this.subscribed.push(topic);
    cb(null, [{ qos: 1 }]);
    return this;
  }
  end(_force?: boolean, _opts?: unknown, cb?: () => void): this {
    this.ended = true;
    cb?.();
    return this;
  }
  up(): void {
    this.connected = true;
    this.emit('connect');
  }
  down(err?: Error): void {
    this.connected = false;
    if (err) this.emit('error', err);
    this.emit('close');
  }
}

let now = 1_000_000;
let clients: FakeClient[] = [];

function link(over: Partial<MqttLinkOptions> = {}): MqttLink {
  return new MqttLink({
    url: 'mqtts://broker.example:8883',
    protocolVersion: 5,
    tls: { servername: 'broker.example' },
    clientId: 'pc-test',
    keepaliveS: 30,
    connectTimeoutMs: 5000,
    backoff: { initialDelayMs: 1000, maxDelayMs: 8000, randomisationFactor: 0 },
    window: 2,
    maxMessagesPerSecond: 1000,
    maxBytesPerSecond: 1_000_000,
    stateMessages: (session) => ({ topic: 'pc/v1/p/state', online: `online@${session}`, offline: `offline@${session}` }),
    subscriptions: ['pc/v1/p/down'],
    clock: { now: () => now },
    log: silentLogger,
    connect: (o) => {
      const c = new FakeClient(o);
      clients.push(c);
      return c as unknown as MqttClient;
    },
    ...over,
  });
}

beforeEach(() => {
  vi.useFakeTimers();
  clients = [];
});
afterEach(() => {
  vi.useRealTimers();
});

describe('mqtt link', () => {
  it('connects with TLS verification, a retained signed last will, and publishes the birth message on connect', () => {
    const l = link();
    const states: string[] = [];
    l.on('state', (s) => states.push(s.state));
    l.start();
    const c = clients[0]!;
    expect(c.options).toMatchObject({
      protocol: 'mqtts',
      host: 'broker.example',
      port: 8883,
      rejectUnauthorized: true,
      servername: 'broker.example',
      reconnectPeriod: 0,
      clean: true,
    });
    expect(c.options.will).toMatchObject({ topic: 'pc/v1/p/state', qos: 1, retain: true });
    expect(c.options.will!.payload.toString()).toBe(`offline@${now}`);
    c.up();
    expect(states).toEqual(['connecting', 'online']);
    expect(c.published[0]).toMatchObject({ topic: 'pc/v1/p/state', payload: `online@${now}`, retain: true });
    expect(c.subscribed).toEqual(['pc/v1/p/down']);
    expect(l.status()).toMatchObject({ state: 'online', connectedSince: now, downSince: null, serverFingerprint: 'AA:BB', tls: true });
  });

  it('never hands mqtt.js a publish while offline or beyond the in-flight window', async () => {
    const l = link();
    l.start();
    const c = clients[0]!;
    expect(l.waitMs(10)).toBe(Infinity);
    expect(() => l.publish('t', 'x')).toThrow(PublishError);
    c.up();
    c.published.length = 0;
    const a = l.publish('t', 'a');
    const b = l.publish('t', 'b');
    expect(l.waitMs(10)).toBe(Infinity);
    expect(() => l.publish('t', 'c')).toThrow(PublishError);
    expect(c.published).toHaveLength(2);
    c.published[0]!.cb();
    await a;
    expect(l.waitMs(10)).toBe(0);
    const refused = Object.assign(new Error('Publish error: Not authorized'), { code: 135 });
    c.published[1]!.cb(refused);
    await expect(b).rejects.toMatchObject({ kind: 'refused', reasonCode: 135 });
  });

  it('takes a PUBACK 0x10 "no matching subscribers" for what it is: not delivered', async () => {
    const l = link();
    l.start();
    const c = clients[0]!;
    c.up();
    c.published.length = 0;
    const p = l.publish('t', 'a');
    // mqtt.js reports 0x10 as success and hands back its stored packet, not the PUBACK: the link reads the PUBACK first.
    c.emit('packetreceive', { cmd: 'puback', messageId: 7, reasonCode: 0x10 });
    (c.published[0]!.cb as (err?: Error, packet?: unknown) => void)(undefined, { messageId: 7 });
    await expect(p).rejects.toMatchObject({ kind: 'undelivered', reasonCode: 0x10 });
    const q = l.publish('t', 'b');
    c.emit('packetreceive', { cmd: 'puback', messageId: 8, reasonCode: 0 });
    (c.published[1]!.cb as (err?: Error, packet?: unknown) => void)(undefined, { messageId: 8 });
    await expect(q).resolves.toBeUndefined();
  });

  it('limits the drain rate with a token bucket', () => {
    const l = link({ window: 100, maxMessagesPerSecond: 2, maxBytesPerSecond: 1_000_000 });
    l.start();
    clients[0]!.up();
    void l.publish('t', 'a');
    void l.publish('t', 'b');
    expect(l.waitMs(1)).toBe(500);
    now += 500;
    expect(l.waitMs(1)).toBe(0);
  });

  it('goes offline with the reason, and reconnects with backoff, each attempt a fresh client and session', () => {
    const l = link();
    l.start();
    clients[0]!.up();
    const tls = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    now += 10;
    clients[0]!.down(tls);
    expect(l.status()).toMatchObject({ state: 'offline', connectedSince: null, downSince: now, lastError: { code: 'TLS_UNTRUSTED' } });
    expect(clients[0]!.ended).toBe(true);
    vi.advanceTimersByTime(999);
    expect(clients).toHaveLength(1);
    now += 1000;
    vi.advanceTimersByTime(1);
    expect(clients).toHaveLength(2);
    expect(clients[1]!.options.will!.payload.toString()).toBe(`offline@${now}`);
    clients[1]!.down();
    vi.advanceTimersByTime(1999);
    expect(clients).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(clients).toHaveLength(3);
    // Attempts since the last successful connection.
    expect(l.status().attempts).toBe(2);
  });

  it('says offline itself on a clean stop, then never reconnects', async () => {
    const l = link();
    l.start();
    const c = clients[0]!;
    c.up();
    const stopping = l.stop();
    const offline = c.published.find((p) => p.payload.startsWith('offline@'));
    expect(offline).toMatchObject({ topic: 'pc/v1/p/state', retain: true });
    offline!.cb();
    await stopping;
    expect(l.status().state).toBe('closed');
    vi.advanceTimersByTime(60_000);
    expect(clients).toHaveLength(1);
  });

  it('names connection failures in words people can act on', () => {
    expect(describeLinkError(Object.assign(new Error('x'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), 'u').code).toBe('TLS_UNTRUSTED');
    expect(describeLinkError(Object.assign(new Error('Connection refused: Bad User Name or Password'), { code: 134 }), 'u').code).toBe(
      'BROKER_AUTH',
    );
    expect(describeLinkError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 'mqtts://h:1').message).toMatch(
      /Cannot reach the broker at mqtts:\/\/h:1/,
    );
  });
});
