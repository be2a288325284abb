import { test, expect } from '@playwright/test';
import { createUser } from './fixtures/users';
import { registerClient } from './fixtures/oauth';
import { SignInPage } from './fixtures/pages';
import { PORTCULLIS, HOST } from './fixtures/env';
import { adminApi } from './fixtures/admin';

const CALLBACK = `${HOST}/callback.html`;

// The org authorization server, and the `default` custom server every org has.
for (const server of [
  { name: 'the org server', issuer: PORTCULLIS, audience: PORTCULLIS },
  { name: 'the default custom server', issuer: `${PORTCULLIS}/oauth2/default`, audience: 'api://default' },
]) test(`openid-client (unmodified) signs a person in with code + PKCE through the hosted page at ${server.name}`, async ({ page }) => {
  // openid-client 6 is ESM-only: load it as an app would, from its package.
  const oidc = await import('openid-client');
  const registered = await registerClient({
    client_name: 'e2e web app (openid-client)',
    application_type: 'web',
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [CALLBACK],
    grant_types: ['authorization_code', 'refresh_token'],
  });
  const user = await createUser('rp');

  const config = await oidc.discovery(
    new URL(server.issuer),
    registered.client_id,
    registered.client_secret,
    undefined,
    { execute: [oidc.allowInsecureRequests] },
  );
  const verifier = oidc.randomPKCECodeVerifier();
  const challenge = await oidc.calculatePKCECodeChallenge(verifier);
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK,
    scope: 'openid email profile offline_access',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });

  await page.goto(url.href);
  await page.waitForURL(/\/login\?fromURI=/);
  await new SignInPage(page).signIn(user.login, user.password);
  await page.waitForURL((u) => u.href.startsWith(CALLBACK));

  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims()!;
  expect(claims.sub).toBe(user.id);
  expect(claims.email).toBe(user.login);
  expect(claims.iss).toBe(server.issuer);

  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  expect(info.email).toBe(user.login);
  expect(info.given_name).toBe(user.firstName);

  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  expect(refreshed.access_token).not.toBe(tokens.access_token);
  const introspected = await oidc.tokenIntrospection(config, refreshed.access_token);
  expect(introspected.active).toBe(true);
  expect(introspected.iss).toBe(server.issuer);
  expect(introspected.aud).toBe(server.audience);
});

// RFC 9126: openid-client pushes the request and sends the browser with its request_uri alone.
for (const issuer of [PORTCULLIS, `${PORTCULLIS}/oauth2/default`]) test(`openid-client (unmodified) pushes its authorization request (PAR) at ${issuer}`, async ({ page }) => {
  const oidc = await import('openid-client');
  const registered = await registerClient({
    client_name: 'e2e web app (openid-client, PAR)',
    application_type: 'web',
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [CALLBACK],
    grant_types: ['authorization_code'],
    require_pushed_authorization_requests: true,
  });
  const user = await createUser('par');
  const config = await oidc.discovery(
    new URL(issuer),
    registered.client_id,
    registered.client_secret,
    undefined,
    { execute: [oidc.allowInsecureRequests] },
  );
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = await oidc.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: CALLBACK,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);

  await page.goto(url.href);
  await page.waitForURL(/\/login\?fromURI=/);
  await new SignInPage(page).signIn(user.login, user.password);
  await page.waitForURL((u) => u.href.startsWith(CALLBACK));
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  expect(tokens.claims()!.email).toBe(user.login);

  // The same request in the browser's address is refused for this client.
  const plain = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK, scope: 'openid', state, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256',
  });
  await page.goto(plain.href);
  await page.waitForURL((u) => u.href.startsWith(CALLBACK));
  expect(new URL(page.url()).searchParams.get('error')).toBe('invalid_request');
});

// A custom server that signs with ES256 or EdDSA: openid-client told so by the client's
// `id_token_signed_response_alg`, and jose verifying both tokens against the published JWKS.
for (const alg of ['ES256', 'EdDSA']) test(`openid-client and jose (unmodified) take tokens a server signs with ${alg}`, async ({ page }) => {
  const oidc = await import('openid-client');
  const jose = await import('jose');
  const registered = await registerClient({
    client_name: `e2e web app (${alg})`,
    application_type: 'web',
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [CALLBACK],
    grant_types: ['authorization_code'],
  });
  const api = await adminApi();
  const made = await api.post('/api/v1/authorizationServers', {
    data: { name: `e2e ${alg} ${Date.now()}`, audiences: [`api://${alg}`], credentials: { signing: { alg } } },
  });
  expect(made.status()).toBe(200);
  const server = await made.json();
  const policy = await (await api.post(`/api/v1/authorizationServers/${server.id}/policies`, {
    data: { type: 'OAUTH_AUTHORIZATION_POLICY', name: 'e2e', conditions: { clients: { include: [registered.client_id] } } },
  })).json();
  const rule = await api.post(`/api/v1/authorizationServers/${server.id}/policies/${policy.id}/rules`, {
    data: {
      type: 'RESOURCE_ACCESS', name: 'e2e',
      conditions: { people: { groups: { include: ['EVERYONE'] } }, grantTypes: { include: ['authorization_code'] }, scopes: { include: ['*'] } },
      actions: { token: { accessTokenLifetimeMinutes: 60 } },
    },
  });
  expect(rule.status()).toBe(200);
  await api.dispose();

  const user = await createUser(alg.toLowerCase());
  const config = await oidc.discovery(
    new URL(server.issuer),
    registered.client_id,
    { client_secret: registered.client_secret, id_token_signed_response_alg: alg },
    undefined,
    { execute: [oidc.allowInsecureRequests] },
  );
  expect(config.serverMetadata().id_token_signing_alg_values_supported).toEqual([alg]);
  const verifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  await page.goto(url.href);
  await page.waitForURL(/\/login\?fromURI=/);
  await new SignInPage(page).signIn(user.login, user.password);
  await page.waitForURL((u) => u.href.startsWith(CALLBACK));
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });

  const keys = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
  const id = await jose.jwtVerify(tokens.id_token!, keys, { issuer: server.issuer, audience: registered.client_id });
  expect(id.protectedHeader.alg).toBe(alg);
  expect(id.payload.email).toBe(user.login);
  const access = await jose.jwtVerify(tokens.access_token, keys, { issuer: server.issuer, audience: `api://${alg}` });
  expect(access.protectedHeader.alg).toBe(alg);
  expect(access.payload.uid).toBe(user.id);
});
