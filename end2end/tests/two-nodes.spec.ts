import { test, expect, request, type Page } from '@playwright/test';
import { createHash, randomBytes } from 'node:crypto';
import { SignInPage, failOnPageErrors } from './fixtures/pages';
import { PASSWORD } from './fixtures/users';
import { HOST, ADMIN_TOKEN, NODE_A, NODE_B, NODES_DATABASE } from './fixtures/env';

const CALLBACK = `${HOST}/callback.html`;

/** The admin API of one node. */
function admin(node: string) {
  return request.newContext({
    baseURL: node,
    extraHTTPHeaders: { Authorization: `SSWS ${ADMIN_TOKEN}` },
  });
}

function base64url(bytes: Buffer): string {
  return bytes.toString('base64url');
}

function authorizeUrl(node: string, params: Record<string, string>): string {
  return `${node}/oauth2/v1/authorize?${new URLSearchParams(params)}`;
}

/** What the app does from its own page: a CORS request to a node's token endpoint. */
async function token(page: Page, node: string, form: Record<string, string>) {
  return page.evaluate(
    async ({ url, form }) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
      });
      return { status: res.status, body: await res.json() };
    },
    { url: `${node}/oauth2/v1/token`, form },
  );
}

/** The payload of a JWT, read without checking it (the node checked it). */
function claims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

test.describe('two nodes on one PostgreSQL database', () => {
  // CI always starts the database (cargo xtask); a bare `npx playwright test` may not.
  test.skip(!NODES_DATABASE && !process.env.CI, 'needs PostgreSQL: run through `cargo xtask e2e`');

  test('a person signs in on node A, renews on node B, and A refuses them once B deactivates them', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    const [a, b] = [await admin(NODE_A), await admin(NODE_B)];

    // Configured on either node, in effect on both.
    const origin = await a.post('/api/v1/trustedOrigins', {
      data: { name: `app ${Date.now()}`, origin: HOST, scopes: [{ type: 'CORS' }, { type: 'REDIRECT' }] },
    });
    expect(origin.ok(), await origin.text()).toBe(true);
    const registered = await a.post('/oauth2/v1/clients', {
      data: {
        client_name: 'Two-node SPA',
        application_type: 'browser',
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'],
      },
    });
    expect(registered.status()).toBe(201);
    const { client_id } = await registered.json();
    const login = `nodes-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
    const created = await b.post('/api/v1/users?activate=true', {
      data: {
        profile: { login, email: login, firstName: 'Ada', lastName: 'Node' },
        credentials: { password: { value: PASSWORD } },
      },
    });
    expect(created.status()).toBe(200);
    const user = await created.json();

    // Signed in through node A's hosted page.
    const verifier = base64url(randomBytes(32));
    const challenge = base64url(createHash('sha256').update(verifier).digest());
    const request_ = (node: string, state: string, extra: Record<string, string> = {}) =>
      authorizeUrl(node, {
        client_id,
        redirect_uri: CALLBACK,
        response_type: 'code',
        scope: 'openid profile offline_access',
        state,
        nonce: `n-${state}`,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        ...extra,
      });
    await page.goto(request_(NODE_A, 'first'));
    await page.waitForURL(/\/login\?fromURI=/);
    expect(new URL(page.url()).origin).toBe(NODE_A);
    await new SignInPage(page).signIn(login, PASSWORD);
    await page.waitForURL((u) => u.href.startsWith(CALLBACK));
    const code = new URL(page.url()).searchParams.get('code') ?? '';
    expect(code).not.toBe('');

    // The app redeems A's code at B and renews there: one issuer, one store.
    const tokens = await token(page, NODE_B, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: CALLBACK,
      client_id,
      code_verifier: verifier,
    });
    expect(tokens.status, JSON.stringify(tokens.body)).toBe(200);
    expect(claims(tokens.body.id_token)).toMatchObject({ iss: NODE_A, sub: user.id, nonce: 'n-first' });
    const renewed = await token(page, NODE_B, {
      grant_type: 'refresh_token',
      refresh_token: tokens.body.refresh_token,
      client_id,
    });
    expect(renewed.status, JSON.stringify(renewed.body)).toBe(200);
    const info = await page.evaluate(
      async ({ url, access }) => {
        const res = await fetch(url, { headers: { Authorization: `Bearer ${access}` } });
        return { status: res.status, body: await res.json() };
      },
      { url: `${NODE_B}/oauth2/v1/userinfo`, access: renewed.body.access_token },
    );
    expect(info).toMatchObject({ status: 200, body: { sub: user.id, preferred_username: login } });

    // The session begun on A answers on B (the browser sends 127.0.0.1's cookie to both).
    await page.goto(request_(NODE_B, 'silent', { prompt: 'none' }));
    await page.waitForURL((u) => u.href.startsWith(CALLBACK));
    const silent = new URL(page.url()).searchParams;
    expect(silent.get('error')).toBeNull();
    expect(silent.get('code')).toBeTruthy();

    // Deactivated on B: A refuses the refresh token and the session at once.
    const deactivated = await b.post(`/api/v1/users/${user.id}/lifecycle/deactivate`);
    expect(deactivated.status()).toBe(200);
    const refused = await token(page, NODE_A, {
      grant_type: 'refresh_token',
      refresh_token: renewed.body.refresh_token ?? tokens.body.refresh_token,
      client_id,
    });
    expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    await page.goto(request_(NODE_A, 'after', { prompt: 'none' }));
    await page.waitForURL((u) => u.href.startsWith(CALLBACK));
    const after = new URL(page.url()).searchParams;
    expect(after.get('error')).toBe('login_required');
    expect(after.get('code')).toBeNull();

    noErrors();
    await a.dispose();
    await b.dispose();
  });
});
