import { test, expect, type Page } from '@playwright/test';
import { createUser } from './fixtures/users';
import { adminApi } from './fixtures/admin';
import { SignInPage, WidgetHost, expectAccessible, failOnPageErrors } from './fixtures/pages';
import { registerSpa } from './fixtures/oauth';
import { totp } from './fixtures/totp';
import { PORTCULLIS, POLICY_ORG, HOST } from './fixtures/env';

// Sign-in through an upstream OpenID provider, in Chromium: the second org of the run (a
// Portcullis of its own, with its own keys, users and MFA policy) is the provider.

/** An OIDC app at the second org for this one, and the provider here that uses it. */
async function partnerProvider() {
  const upstream = await adminApi(POLICY_ORG);
  const here = await adminApi();
  const res = await upstream.post('/oauth2/v1/clients', {
    data: {
      client_name: 'Portcullis e2e (downstream)', application_type: 'web',
      redirect_uris: [`${PORTCULLIS}/oauth2/v1/authorize/callback`],
      grant_types: ['authorization_code'], response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  });
  expect(res.status()).toBe(201);
  const client = await res.json();
  const name = `Partner org ${Date.now()}`;
  const created = await here.post('/api/v1/idps', {
    data: {
      type: 'OIDC', name,
      protocol: {
        type: 'OIDC',
        endpoints: {
          authorization: { url: `${POLICY_ORG}/oauth2/v1/authorize`, binding: 'HTTP-REDIRECT' },
          token: { url: `${POLICY_ORG}/oauth2/v1/token`, binding: 'HTTP-POST' },
          userInfo: { url: `${POLICY_ORG}/oauth2/v1/userinfo`, binding: 'HTTP-REDIRECT' },
          jwks: { url: `${POLICY_ORG}/oauth2/v1/keys`, binding: 'HTTP-REDIRECT' },
        },
        scopes: ['openid', 'profile', 'email'],
        issuer: { url: POLICY_ORG },
        credentials: { client: { client_id: client.client_id, client_secret: client.client_secret } },
      },
      policy: {
        provisioning: { action: 'AUTO', groups: { action: 'NONE' } },
        accountLink: { action: 'AUTO' },
        subject: { userNameTemplate: { template: 'idpuser.email' }, matchType: 'USERNAME' },
      },
    },
  });
  expect(created.status()).toBe(200);
  const idp = await created.json();
  return {
    here, name, id: idp.id as string,
    /** Other specs share this org's sign-in page: the provider goes when the test ends. */
    async remove() {
      await here.post(`/api/v1/idps/${idp.id}/lifecycle/deactivate`);
      await upstream.dispose();
      await here.dispose();
    },
  };
}

/** At the second org: its sign-in page and its required Google Authenticator. */
async function signInUpstream(page: Page, login: string, password: string) {
  await page.waitForURL((u) => u.href.startsWith(`${POLICY_ORG}/login`));
  await new SignInPage(page).signIn(login, password);
  await page.locator('[data-factor="totp-GOOGLE"]').getByRole('button', { name: 'Set up' }).click();
  const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
  await page.getByLabel('Code').fill(totp(secret));
  await page.getByRole('button', { name: 'Verify' }).click();
}

test.describe('signing in with another identity provider', () => {
  test('a person picks the provider on the sign-in page, signs in there and comes back signed in', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    const partner = await partnerProvider();
    try {
      const person = await createUser('federated', POLICY_ORG);
      await page.goto('/login');
      await expectAccessible(page);
      await page.getByRole('link', { name: `Sign in with ${partner.name}` }).click();
      await signInUpstream(page, person.login, person.password);

      // Back here, signed in to an account made for them just now.
      await expect(page.getByTestId('signed-in-user')).toContainText(person.login);
      expect(new URL(page.url()).origin).toBe(PORTCULLIS);
      const users = await (await partner.here.get('/api/v1/users', {
        params: { search: `profile.login eq "${person.login}"` },
      })).json();
      expect(users).toHaveLength(1);
      expect(users[0].status).toBe('ACTIVE');
      noErrors();
    } finally {
      await partner.remove();
    }
  });

  test("Okta's Sign-In Widget's idps button goes through the provider and back", async ({ page }) => {
    const partner = await partnerProvider();
    try {
      const person = await createUser('okta-widget-idp', POLICY_ORG);
      const query = new URLSearchParams({ baseUrl: PORTCULLIS, idp: partner.id });
      await page.goto(`${HOST}/okta-widget.html?${query}`);
      // Okta's widget sends the browser to {baseUrl}/sso/idps/{id}, as it does against Okta.
      await page.getByText('Sign in with Partner').click();
      await signInUpstream(page, person.login, person.password);
      await expect(page.getByTestId('signed-in-user')).toContainText(person.login);
      expect(new URL(page.url()).origin).toBe(PORTCULLIS);
    } finally {
      await partner.remove();
    }
  });

  test("the Portcullis widget's idps button signs in through the provider and the app gets its code", async ({ page }) => {
    const partner = await partnerProvider();
    try {
      const person = await createUser('widget-idp', POLICY_ORG);
      const callback = `${HOST}/callback.html`;
      const { client_id } = await registerSpa(callback);
      const host = new WidgetHost(page);
      // Okta's option names: `idps` and `idpDisplay`.
      await host.goto(HOST, PORTCULLIS, {
        clientId: client_id, redirectUri: callback,
        authParams: { issuer: `${PORTCULLIS}/oauth2/default` },
        idps: [{ type: 'OIDC', id: partner.id, text: 'Partner' }], idpDisplay: 'PRIMARY',
      });
      const w = host.widget();
      await w.getByRole('button', { name: 'Sign in with Partner' }).click();
      // Through the issuer's /authorize with idp=, to the provider, and back with a code.
      await signInUpstream(page, person.login, person.password);
      await page.waitForURL((u) => u.href.startsWith(callback));
      const url = new URL(page.url());
      const tx = await page.evaluate(() => JSON.parse(sessionStorage.getItem('portcullis-transaction')!));
      expect(url.searchParams.get('state')).toBe(tx.state);
      const tokens = await page.evaluate(async ({ tx, code }) => {
        const r = await fetch(`${tx.issuer}/v1/token`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'authorization_code', client_id: tx.clientId, code,
            redirect_uri: tx.redirectUri, code_verifier: tx.codeVerifier }),
        });
        return r.json();
      }, { tx, code: url.searchParams.get('code')! });
      expect(tokens.access_token).toBeTruthy();
      const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString());
      expect(claims.amr).toContain('fed');
    } finally {
      await partner.remove();
    }
  });
});
