/**
 * Release bundles: the ustar layout byte by byte, and every malformed archive refused with its
 * reason (unknown member, duplicate, path, size field, checksum, order, trailing junk, size limit).
 */
import { describe, expect, it } from 'vitest';
import { ConsoleError } from '../../src-main/core/errors';
import { readBundle, writeBundle, type FirmwareBundle } from '../../src-main/firmware';

const bundle: FirmwareBundle = {
  manifest: Buffer.from('{"kind":"plant-console/firmware-manifest/v1"}'),
  signatures: ['untrusted comment: a\nsig-a\n', 'untrusted comment: b\nsig-b\n'],
  image: Buffer.alloc(1500, 0xab),
};

interface Member {
  name: string;
  data: Buffer;
  type?: string;
  magic?: string;
  size?: string;
  prefix?: string;
  badChecksum?: boolean;
}

/** An independent ustar writer, so the reader is tested against more than its own writer. */
function tar(members: Member[], tail = Buffer.alloc(1024)): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const h = Buffer.alloc(512);
    h.write(m.name, 0, 'latin1');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(m.size ?? m.data.length.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
    h.write('00000000000\0', 136);
    h.write(m.type ?? '0', 156);
    h.write(m.magic ?? 'ustar\x0000', 257, 'latin1');
    if (m.prefix) h.write(m.prefix, 345);
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write((m.badChecksum ? sum + 1 : sum).toString(8).padStart(6, '0') + '\0 ', 148);
    parts.push(h, m.data, Buffer.alloc((512 - (m.data.length % 512)) % 512));
  }
  return Buffer.concat([...parts, tail]);
}

const good = (): Member[] => [
  { name: 'manifest.json', data: Buffer.from(bundle.manifest) },
  { name: 'manifest.json.1.minisig', data: Buffer.from(bundle.signatures[0]!) },
  { name: 'manifest.json.2.minisig', data: Buffer.from(bundle.signatures[1]!) },
  { name: 'image.bin', data: Buffer.from(bundle.image) },
];

function refused(bytes: Uint8Array, message: RegExp, limits?: { maxBytes?: number }): void {
  let err: unknown;
  try {
    readBundle(bytes, limits);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConsoleError);
  expect((err as ConsoleError).code).toBe('FIRMWARE_INVALID');
  expect((err as ConsoleError).message).toMatch(/^Not a valid firmware bundle: /);
  expect((err as ConsoleError).message).toMatch(message);
}

describe('writeBundle', () => {
  it('writes a POSIX ustar archive: manifest, signatures in order, image, two zero blocks', () => {
    const bytes = Buffer.from(writeBundle(bundle));
    // 4 headers + 1 + 1 + 1 + 3 data blocks + 2 end blocks
    expect(bytes.length).toBe(512 * 12);
    expect(bytes.equals(tar(good()))).toBe(true);
    const h = bytes.subarray(0, 512);
    expect(h.subarray(0, 13).toString()).toBe('manifest.json');
    expect(h.subarray(124, 136).toString()).toBe(`${bundle.manifest.length.toString(8).padStart(11, '0')}\0`);
    expect(h.subarray(257, 265).toString('latin1')).toBe('ustar\x0000');
    expect(bytes.subarray(512 * 10).equals(Buffer.alloc(1024))).toBe(true);
    expect(Buffer.from(writeBundle(bundle)).equals(bytes)).toBe(true); // deterministic
  });

  it('round-trips, and accepts zero padding to a 10240-byte tar record', () => {
    expect(readBundle(writeBundle(bundle))).toEqual({
      manifest: Buffer.from(bundle.manifest),
      signatures: bundle.signatures,
      image: Buffer.from(bundle.image),
    });
    const padded = Buffer.concat([Buffer.from(writeBundle(bundle)), Buffer.alloc(10240 - 512 * 12)]);
    expect(readBundle(padded).signatures).toEqual(bundle.signatures);
  });

  it('refuses to write a bundle without signatures or image', () => {
    expect(() => writeBundle({ ...bundle, signatures: [] })).toThrow(/1 to 32 signatures/);
    expect(() => writeBundle({ ...bundle, image: Buffer.alloc(0) })).toThrow(/image is empty/);
  });
});

describe('readBundle refuses', () => {
  it('an unknown member, a duplicate, members out of order, missing parts', () => {
    const g = good();
    refused(tar([g[0]!, g[1]!, { name: 'evil.sh', data: Buffer.from('x') }, g[3]!]), /member 3 is evil\.sh.*unknown member/);
    refused(tar([g[0]!, g[1]!, g[1]!, g[3]!]), /manifest\.json\.1\.minisig appears twice/);
    refused(tar([g[0]!, g[0]!, g[1]!, g[3]!]), /manifest\.json appears twice/);
    refused(tar([g[0]!, g[2]!, g[1]!, g[3]!]), /expected manifest\.json\.1\.minisig/);
    refused(tar([g[3]!, g[1]!, g[0]!]), /first member must be manifest\.json, not image\.bin/);
    refused(tar([g[0]!, g[1]!]), /last member must be image\.bin, not manifest\.json\.1\.minisig/);
    refused(tar([g[0]!, g[3]!]), /holds no signature/);
    refused(tar([]), /first member must be manifest\.json, not missing/);
    refused(tar([g[0]!, g[1]!, { ...g[3]!, data: Buffer.alloc(0) }]), /image is empty/);
  });

  it('paths, links and prefixes', () => {
    const g = good();
    refused(tar([{ ...g[0]!, name: 'dir/manifest.json' }, g[1]!, g[3]!]), /not a plain file name/);
    refused(tar([{ ...g[0]!, name: '../manifest.json' }, g[1]!, g[3]!]), /not a plain file name/);
    refused(tar([{ ...g[0]!, prefix: 'dir' }, g[1]!, g[3]!]), /has a path prefix/);
    refused(tar([g[0]!, g[1]!, { ...g[3]!, type: '2', data: Buffer.alloc(0) }]), /not a regular file \(type "2"\)/);
    refused(tar([g[0]!, g[1]!, { ...g[3]!, type: 'L' }]), /not a regular file/);
  });

  it('bad size fields, checksums and magic', () => {
    const g = good();
    refused(tar([{ ...g[0]!, size: '0000000abc\0\0' }, g[1]!, g[3]!]), /size field .* is not an octal number/);
    refused(tar([{ ...g[0]!, size: '\x80\0\0\0\0\0\0\0\0\0\0\x01' }, g[1]!, g[3]!]), /size field/);
    refused(tar([g[0]!, g[1]!, { ...g[3]!, size: '77777777777\0' }]), /says 8589934591 bytes but the archive ends before/);
    refused(tar([g[0]!, { ...g[1]!, badChecksum: true }, g[3]!]), /header at offset 1024 has a bad checksum/);
    refused(tar([{ ...g[0]!, magic: 'ustar  \0' }, g[1]!, g[3]!]), /not POSIX ustar/);
  });

  it('trailing junk, truncation, a missing end marker, odd lengths, too large', () => {
    const bytes = Buffer.from(writeBundle(bundle));
    refused(Buffer.concat([bytes, Buffer.from('junk'.padEnd(512, '\0'))]), /512 bytes follow the end of the archive/);
    refused(Buffer.concat([bytes, Buffer.alloc(10240)]), /follow the end of the archive/);
    refused(bytes.subarray(0, bytes.length - 1024), /ends without the end-of-archive blocks/);
    refused(bytes.subarray(0, 512 * 5), /member manifest\.json\.2\.minisig says 27 bytes but the archive ends before/);
    refused(Buffer.concat([bytes, Buffer.from('x')]), /not a whole number of 512-byte blocks/);
    refused(bytes, /more than the 4096 accepted/, { maxBytes: 4096 });
    const lone = Buffer.from(bytes);
    lone.fill(0, 512 * 10, 512 * 10 + 512);
    lone.fill(1, 512 * 11, 512 * 12);
    refused(lone, /zero block that is not the end/);
  });

  it('signatures that are not UTF-8 text, too many, or too long', () => {
    const g = good();
    refused(tar([g[0]!, { ...g[1]!, data: Buffer.from([0xc3, 0x28]) }, g[3]!]), /manifest\.json\.1\.minisig is not UTF-8/);
    const many = Array.from({ length: 33 }, (_, i) => ({ name: `manifest.json.${i + 1}.minisig`, data: Buffer.from('s') }));
    refused(tar([g[0]!, ...many, g[3]!]), /33 signatures; at most 32/);
    refused(tar([g[0]!, { ...g[1]!, data: Buffer.alloc(17_000, 0x41) }, g[3]!]), /manifest\.json\.1\.minisig has 17000 bytes/);
    refused(tar([{ ...g[0]!, data: Buffer.alloc(70_000, 0x20) }, g[1]!, g[3]!]), /its manifest has 70000 bytes/);
  });
});
