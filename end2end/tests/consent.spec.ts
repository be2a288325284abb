import { test, expect, request } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { createUser } from './fixtures/users';
import { registerClient } from './fixtures/oauth';
import { SignInPage, failOnPageErrors } from './fixtures/pages';
import { PORTCULLIS, HOST, ADMIN_TOKEN } from './fixtures/env';

const CALLBACK = `${HOST}/callback.html`;
const ISSUER = `${PORTCULLIS}/oauth2/default`;

/** A scope on the default server that needs the person's consent, with a unique name. */
async function consentScope(): Promise<string> {
  const name = `photos:read:${Date.now()}${Math.floor(Math.random() * 1e4)}`;
  const api = await request.newContext({
    baseURL: PORTCULLIS,
    extraHTTPHeaders: { Authorization: `SSWS ${ADMIN_TOKEN}` },
  });
  const res = await api.post('/api/v1/authorizationServers/default/scopes', {
    data: {
      name,
      displayName: 'View your photos',
      description: 'See the photos in your albums',
      consent: 'REQUIRED',
    },
  });
  if (!res.ok()) throw new Error(`creating the scope failed: ${res.status()} ${await res.text()}`);
  await api.dispose();
  return name;
}

function authorizeUrl(clientId: string, scope: string, state: string): string {
  const q = new URLSearchParams({
    client_id: clientId,
    redirect_uri: CALLBACK,
    response_type: 'code',
    scope: `openid ${scope}`,
    state,
    // A confidential web client: PKCE is optional for it, and the test only needs the code.
  });
  return `${ISSUER}/v1/authorize?${q}`;
}

test.describe('the consent screen of a custom authorization server', () => {
  test('asks once in plain words, remembers a yes, and returns the code', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    const scope = await consentScope();
    const { client_id } = await registerClient({
      client_name: 'Photo Printer',
      application_type: 'web',
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code'],
      consent_method: 'REQUIRED',
    });
    const user = await createUser('consent');

    await page.goto(authorizeUrl(client_id, scope, 'first'));
    await page.waitForURL(/\/login\?fromURI=/);
    await new SignInPage(page).signIn(user.login, user.password);

    await expect(page.getByRole('heading', { name: 'Allow access?' })).toBeVisible();
    await expect(page).toHaveTitle(/Allow access/);
    await expect(page.getByTestId('consent-client')).toContainText('Photo Printer');
    const scopes = page.getByTestId('consent-scopes');
    await expect(scopes).toContainText('View your photos');
    await expect(scopes).toContainText('See the photos in your albums');
    await expect(scopes.locator('li')).toHaveCount(1);
    const a11y = await new AxeBuilder({ page }).analyze();
    expect(a11y.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
    await page.screenshot({ path: test.info().outputPath('consent.png'), fullPage: true });

    await page.getByRole('button', { name: 'Allow access' }).click();
    await page.waitForURL((u) => u.href.startsWith(CALLBACK));
    const back = new URL(page.url());
    expect(back.searchParams.get('state')).toBe('first');
    expect(back.searchParams.get('code')).toBeTruthy();

    // Remembered: the next request goes straight back to the app.
    await page.goto(authorizeUrl(client_id, scope, 'second'));
    await page.waitForURL((u) => u.href.startsWith(CALLBACK));
    expect(new URL(page.url()).searchParams.get('code')).toBeTruthy();

    // The admin sees the grant.
    const api = await request.newContext({
      baseURL: PORTCULLIS,
      extraHTTPHeaders: { Authorization: `SSWS ${ADMIN_TOKEN}` },
    });
    const grants = await (await api.get(`/api/v1/users/${user.id}/grants`)).json();
    expect(grants.map((g: any) => g._embedded.scope.name)).toEqual([scope]);
    await api.dispose();
    noErrors();
  });

  test("works without JavaScript, and \"Don't allow\" returns access_denied to the app", async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const scope = await consentScope();
    const { client_id } = await registerClient({
      client_name: 'Nosy App',
      application_type: 'web',
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code'],
      consent_method: 'REQUIRED',
    });
    const user = await createUser('refuses');

    await page.goto(authorizeUrl(client_id, scope, 'nope'));
    await page.waitForURL(/\/login\?fromURI=/);
    await new SignInPage(page).signIn(user.login, user.password);
    await expect(page.getByRole('heading', { name: 'Allow access?' })).toBeVisible();
    await page.getByRole('button', { name: "Don't allow" }).click();
    await page.waitForURL((u) => u.href.startsWith(CALLBACK));
    const back = new URL(page.url());
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe('nope');
    expect(back.searchParams.get('code')).toBeNull();
    await context.close();
  });
});
