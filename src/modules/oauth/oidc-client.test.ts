import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../lib/clock.js';
import { createOidcClient, IdTokenRejected, OidcProviderError } from './oidc-client.js';

/**
 * ID token checks against a provider's keys served over real HTTP on
 * 127.0.0.1: only the JWKS and discovery document, so the test can sign
 * tokens with the provider's key and with keys the provider never published.
 */
let server: Server;
let issuer: string;
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let providerKey: PrivateKey;
let strangerKey: PrivateKey;
const clock = createManualClock(new Date('2026-12-07T10:00:00Z'));

beforeAll(async () => {
  const provider = await generateKeyPair('RS256');
  providerKey = provider.privateKey;
  strangerKey = (await generateKeyPair('RS256')).privateKey;
  const jwk: JWK = { ...(await exportJWK(provider.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') {
      res.end(
        JSON.stringify({
          issuer,
          authorization_endpoint: `${issuer}/auth`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
        }),
      );
    } else if (req.url === '/jwks') {
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const now = () => Math.floor(clock.now().getTime() / 1000);

function token(claims: Record<string, unknown>, key = providerKey, kid = 'k1') {
  // Claims given here replace the valid defaults, so each case breaks exactly one thing.
  return new SignJWT({
    iss: issuer,
    aud: 'herald',
    sub: 'ann',
    iat: now(),
    exp: now() + 300,
    nonce: 'n-1',
    email: 'ann@example.com',
    email_verified: true,
    ...claims,
  })
    .setProtectedHeader({ alg: 'RS256', kid })
    .sign(key);
}

describe('OpenID Connect client', () => {
  it('reads the discovery document and accepts a token signed with a published key', async () => {
    const client = createOidcClient({ clock });
    const metadata = await client.discover(issuer);
    expect(metadata.jwks_uri).toBe(`${issuer}/jwks`);
    const claims = await client.verifyIdToken({
      idToken: await token({}),
      metadata,
      clientId: 'herald',
      nonce: 'n-1',
    });
    expect(claims).toMatchObject({ sub: 'ann', email: 'ann@example.com' });
  });

  it('refuses a token signed with another key, for another audience, from another issuer, expired, or with another nonce', async () => {
    const client = createOidcClient({ clock });
    const metadata = await client.discover(issuer);
    const verify = async (idToken: string, nonce = 'n-1') =>
      client.verifyIdToken({ idToken, metadata, clientId: 'herald', nonce });
    const cases: Array<[string, Promise<string>, string]> = [
      ['unpublished key', token({}, strangerKey), 'signature'],
      ['other audience', token({ aud: 'someone-else' }), 'aud'],
      ['other issuer', token({ iss: 'https://evil.example' }), 'iss'],
      ['expired', token({ exp: now() - 120 }), 'exp'],
      ['several audiences without azp', token({ aud: ['herald', 'other'] }), 'several clients'],
    ];
    for (const [name, idToken, says] of cases) {
      const error = await verify(await idToken).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(IdTokenRejected);
      expect(String((error as Error).message), name).toContain(says);
    }
    const wrongNonce = await verify(await token({}), 'n-2').catch((e: unknown) => e);
    expect(wrongNonce).toBeInstanceOf(IdTokenRejected);
    expect((wrongNonce as Error).message).toContain('nonce');
    const noneAlg = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ iss: issuer, aud: 'herald', sub: 'ann', nonce: 'n-1', exp: now() + 60, iat: now() }),
    ).toString('base64url')}.`;
    expect(await verify(noneAlg).catch((e: unknown) => e)).toBeInstanceOf(IdTokenRejected);
  });

  it('refuses a discovery document that names another issuer, and an unreachable provider', async () => {
    const client = createOidcClient({ clock });
    const other = issuer.replace('127.0.0.1', 'localhost');
    await expect(client.discover(other)).rejects.toThrow(OidcProviderError);
    await expect(client.discover('http://127.0.0.1:1')).rejects.toThrow(OidcProviderError);
  });
});
