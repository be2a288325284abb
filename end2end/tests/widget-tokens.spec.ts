import { test, expect } from '@playwright/test';
import { createUser } from './fixtures/users';
import { registerSpa } from './fixtures/oauth';
import { WidgetHost, failOnPageErrors } from './fixtures/pages';
import { PORTCULLIS, HOST } from './fixtures/env';

const PAGE = `${HOST}/tokens.html`;

test.describe('widget on another origin getting tokens', () => {
  test('showSignInToGetTokens resolves with verified ID and access tokens', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    const { client_id } = await registerSpa(PAGE);
    const user = await createUser('tokens');
    await page.goto(`${PAGE}?baseUrl=${encodeURIComponent(PORTCULLIS)}&clientId=${client_id}`);
    const host = new WidgetHost(page);
    await host.signIn(user.login, user.password);
    const outcome = await host.outcome();
    expect(outcome).toEqual({
      kind: 'tokens', email: user.login, sub: user.id, aud: client_id, accessToken: 3, refresh: true,
    });
    // The access token works at userinfo, as an SPA would use it.
    const info = await page.evaluate(async (base) => {
      const r = await fetch(base + '/oauth2/v1/userinfo', {
        headers: { Authorization: 'Bearer ' + (window as any).tokens.accessToken.accessToken },
      });
      return r.json();
    }, PORTCULLIS);
    expect(info.email).toBe(user.login);
    expect(await page.locator('iframe').count()).toBe(0);
    noErrors();
  });

  test('an unknown client gets no tokens: the request is refused and the promise rejects', async ({ page }) => {
    const user = await createUser('tokens-bad');
    await page.goto(`${PAGE}?baseUrl=${encodeURIComponent(PORTCULLIS)}&clientId=0oaNoSuchClient&timeout=3000`);
    const host = new WidgetHost(page);
    await host.signIn(user.login, user.password);
    const outcome = await host.outcome();
    expect(outcome).toEqual({ kind: 'error', name: 'OAuthError', errorCode: 'timeout' });
  });

  test('remove() unmounts cleanly and a new widget mounts afterwards', async ({ page }) => {
    const host = new WidgetHost(page);
    await host.goto(HOST, PORTCULLIS);
    await expect(host.widget()).toBeVisible();
    await page.evaluate(() => (window as any).signIn.remove());
    await expect(host.widget()).toHaveCount(0);
    await page.evaluate(() => {
      (window as any).signIn.renderEl({ el: '#signin' }, () => {}, () => {});
    });
    await expect(host.widget().getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
    await expect(host.widget()).toHaveCount(1);
  });
});

test('tokens renew with the refresh token, which rotates for a public client', async ({ page }) => {
  const { client_id } = await registerSpa(PAGE);
  const user = await createUser('renew');
  await page.goto(`${PAGE}?baseUrl=${encodeURIComponent(PORTCULLIS)}&clientId=${client_id}`);
  const host = new WidgetHost(page);
  await host.signIn(user.login, user.password);
  expect((await host.outcome()).kind).toBe('tokens');
  const renewed = await page.evaluate(async () => {
    const w = window as any;
    const first = w.tokens.refreshToken.refreshToken;
    const next = await w.signIn.renewTokens(w.tokens.refreshToken);
    return {
      rotated: next.refreshToken.refreshToken !== first,
      newAccess: next.accessToken.accessToken !== w.tokens.accessToken.accessToken,
      idToken: !!next.idToken,
    };
  });
  expect(renewed).toEqual({ rotated: true, newAccess: true, idToken: true });
});

test('autoRenew renews before the access token expires, again and again, until stopped', async ({ page }) => {
  const { client_id } = await registerSpa(PAGE);
  const user = await createUser('auto-renew');
  await page.goto(`${PAGE}?baseUrl=${encodeURIComponent(PORTCULLIS)}&clientId=${client_id}`);
  const host = new WidgetHost(page);
  await host.signIn(user.login, user.password);
  expect((await host.outcome()).kind).toBe('tokens');
  const result = await page.evaluate(async () => {
    const w = window as any;
    const seen: string[] = [];
    // A leeway of almost the whole lifetime makes "before expiry" come within a second or two.
    const leewaySeconds = w.tokens.accessToken.expiresAt - Math.floor(Date.now() / 1000) - 1;
    await new Promise<void>((resolve, reject) => {
      const stop = w.signIn.autoRenew(w.tokens, {
        leewaySeconds,
        onRenewed: (t: any) => {
          seen.push(t.accessToken.accessToken);
          if (seen.length === 2) { stop(); resolve(); }
        },
        onError: reject,
      });
    });
    return { renewals: seen.length, distinct: new Set([w.tokens.accessToken.accessToken, ...seen]).size };
  });
  expect(result).toEqual({ renewals: 2, distinct: 3 });
});
