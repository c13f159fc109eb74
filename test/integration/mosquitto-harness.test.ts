/**
 * The broker the uplink is tested against: TLS verification on, passwords, and an ACL that
 * confines a plant to its own prefix. These are the guarantees the uplink relies on.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { brokerAvailable, disposeBroker, startBroker, type Broker } from '../helpers/mosquitto';
import { describeNeeding } from '../helpers/needs-package';

const PLANT = {
  username: 'plant-a',
  password: 'pw-a-' + Math.random().toString(36).slice(2),
  acl: ['topic write pc/v1/aaaa/up/#', 'topic write pc/v1/aaaa/state', 'topic read pc/v1/aaaa/down'],
};
const CLOUD = {
  username: 'cloud',
  password: 'pw-c-' + Math.random().toString(36).slice(2),
  acl: ['topic read pc/v1/+/up/#', 'topic write pc/v1/+/down'],
};
let broker: Broker | undefined;

function client(opts: Partial<mqtt.IClientOptions> & { ca?: Buffer }): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({
      protocol: 'mqtts',
      host: broker!.host,
      port: broker!.port,
      protocolVersion: 5,
      rejectUnauthorized: true,
      servername: 'localhost',
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...opts,
    });
    c.once('connect', () => resolve(c));
    c.once('error', (err) => {
      c.end(true);
      reject(err);
    });
  });
}

const end = (c: MqttClient) => new Promise<void>((r) => c.end(false, {}, () => r()));

describeNeeding(['mosquitto', 'openssl'], brokerAvailable(), 'mosquitto test broker (TLS, passwords, ACL)', () => {
  beforeAll(async () => {
    broker = await startBroker([PLANT, CLOUD]);
  }, 30_000);
  afterAll(async () => {
    await disposeBroker(broker);
  });

  it('accepts a verified TLS connection with valid credentials and delivers within the ACL', async () => {
    const cloud = await client({ ca: broker!.ca, username: CLOUD.username, password: CLOUD.password });
    const plant = await client({ ca: broker!.ca, username: PLANT.username, password: PLANT.password });
    await cloud.subscribeAsync('pc/v1/+/up/#', { qos: 1 });
    const got = new Promise<string>((r) => cloud.once('message', (topic, payload) => r(`${topic} ${payload.toString()}`)));
    await plant.publishAsync('pc/v1/aaaa/up/plain/m1', 'hello', { qos: 1 });
    expect(await got).toBe('pc/v1/aaaa/up/plain/m1 hello');
    await end(plant);
    await end(cloud);
  });

  it('refuses a server certificate from another CA', async () => {
    await expect(client({ ca: broker!.otherCa, username: PLANT.username, password: PLANT.password })).rejects.toThrow(
      /certificate|self.signed|unable to verify/i,
    );
  });

  it('refuses a wrong password', async () => {
    await expect(client({ ca: broker!.ca, username: PLANT.username, password: 'wrong' })).rejects.toThrow(
      /Bad User Name or Password|Not authorized|authori/i,
    );
  });

  it("does not deliver what a plant publishes under another plant's prefix", async () => {
    const cloud = await client({ ca: broker!.ca, username: CLOUD.username, password: CLOUD.password });
    const plant = await client({ ca: broker!.ca, username: PLANT.username, password: PLANT.password });
    await cloud.subscribeAsync('pc/v1/+/up/#', { qos: 1 });
    const seen: string[] = [];
    cloud.on('message', (topic) => seen.push(topic));
    // Denied by the ACL: mosquitto acknowledges but drops it (MQTT 5: reason code "not authorized" where supported).
    const denied = await plant.publishAsync('pc/v1/bbbb/up/plain/m1', 'spoof', { qos: 1 }).then(
      (p) => (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0,
      () => 135,
    );
    // A marker published afterwards on the allowed prefix proves the denied one had its chance to arrive.
    const marker = new Promise<void>((r) => cloud.on('message', (topic) => topic === 'pc/v1/aaaa/up/plain/marker' && r()));
    await plant.publishAsync('pc/v1/aaaa/up/plain/marker', 'm', { qos: 1 });
    await marker;
    expect(seen).not.toContain('pc/v1/bbbb/up/plain/m1');
    expect([0, 135]).toContain(denied);
    await end(plant);
    await end(cloud);
  });
});
