import { describe, expect, it } from 'vitest';
import { ForbiddenAddressError, isForbiddenAddress, resolveAllowed } from './address-guard.js';

describe('isForbiddenAddress', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fe80::1%eth0',
    'fc00::1',
    'fd00:ec2::254',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '::10.0.0.1',
    '64:ff9b::10.0.0.1',
    '2002:7f00:0001::1',
    'not-an-ip',
  ])('refuses %s', (address) => {
    expect(isForbiddenAddress(address)).toBe(true);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '172.32.0.1',
    '192.169.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '2002:0808:0808::1',
  ])('allows %s', (address) => {
    expect(isForbiddenAddress(address)).toBe(false);
  });
});

describe('resolveAllowed', () => {
  const resolver = (addresses: string[]) => async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('refuses a host when any of its addresses is private', async () => {
    await expect(
      resolveAllowed('hooks.example', {
        allowPrivate: false,
        resolve: resolver(['93.184.216.34', '10.0.0.5']),
      }),
    ).rejects.toBeInstanceOf(ForbiddenAddressError);
  });

  it('passes public addresses through, and private ones when allowed', async () => {
    await expect(
      resolveAllowed('hooks.example', { allowPrivate: false, resolve: resolver(['93.184.216.34']) }),
    ).resolves.toEqual([{ address: '93.184.216.34', family: 4 }]);
    await expect(
      resolveAllowed('hooks.example', { allowPrivate: true, resolve: resolver(['10.0.0.5']) }),
    ).resolves.toHaveLength(1);
  });

  it('checks IP literals without resolving, brackets included', async () => {
    await expect(resolveAllowed('[::1]', { allowPrivate: false })).rejects.toBeInstanceOf(
      ForbiddenAddressError,
    );
    await expect(resolveAllowed('127.0.0.1', { allowPrivate: false })).rejects.toBeInstanceOf(
      ForbiddenAddressError,
    );
  });
});
