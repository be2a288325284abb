import { test, expect, Page } from '@playwright/test';
import { createUser } from './fixtures/users';
import { adminApi } from './fixtures/admin';
import { WidgetHost } from './fixtures/pages';
import { HOST, PASSKEY_ORG } from './fixtures/env';

// Passkeys in Chromium, with its virtual authenticator (DevTools WebAuthn domain): a platform
// authenticator with discoverable credentials that verifies its user. The org requires MFA.

async function authenticator(page: Page) {
  // The virtual authenticator answers an autofill (conditional) request at once, as if the
  // person picked the passkey there. That is tried on its own, on `/login?autofill=1`; every
  // other page behaves as a browser without autofill for passkeys.
  await page.addInitScript(() => {
    if (!location.search.includes('autofill=1') && (window as any).PublicKeyCredential) {
      (window as any).PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    }
  });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    },
  };
}

async function passkeyFactors(userId: string) {
  const api = await adminApi(PASSKEY_ORG);
  const res = await api.get(`/api/v1/users/${userId}/factors`);
  const all = await res.json();
  await api.dispose();
  return all.filter((f: any) => f.factorType === 'webauthn');
}

async function passwordSignIn(page: Page, login: string, password: string) {
  await page.goto(`${PASSKEY_ORG}/login`);
  await page.getByLabel('Username').fill(login);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: /signed out|Sign in/i })).toBeVisible();
}

test.describe('passkeys on the hosted pages', () => {
  test('enrolled during sign-in, then a second factor, then the only one; a deleted passkey is refused', async ({ page }) => {
    const key = await authenticator(page);
    const user = await createUser('passkey', PASSKEY_ORG);

    // MFA is required: the person sets up a passkey right after the password.
    await passwordSignIn(page, user.login, user.password);
    await expect(page.getByRole('heading', { name: 'Set up a second step' })).toBeVisible();
    await page.locator('[data-factor="webauthn"]').getByRole('button', { name: 'Set up' }).click();
    await expect(page.getByRole('heading', { name: 'Create a passkey' })).toBeVisible();
    await page.getByRole('button', { name: 'Create passkey' }).click();
    await expect(page.getByTestId('signed-in-user')).toContainText(user.login);
    const made = await key.credentials();
    expect(made).toHaveLength(1);
    expect(made[0].isResidentCredential).toBe(true);
    expect(made[0].rpId).toBe('localhost');
    const [factor] = await passkeyFactors(user.id);
    expect(factor.status).toBe('ACTIVE');

    // Back on the sign-in page, the browser offers the passkey in the username's autofill
    // (conditional mediation): picking it signs in, no password.
    await signOut(page);
    await page.goto(`${PASSKEY_ORG}/login?autofill=1`);
    await expect(page.getByTestId('signed-in-user')).toContainText(user.login);

    // The password, then the passkey as the second factor.
    await signOut(page);
    await passwordSignIn(page, user.login, user.password);
    await expect(page.getByRole('heading', { name: "Verify it's you" })).toBeVisible();
    await page.locator('[data-factor="webauthn"]').getByRole('button', { name: 'Use passkey' }).click();
    await expect(page.getByRole('heading', { name: 'Confirm with your passkey' })).toBeVisible();
    await page.getByRole('button', { name: 'Use passkey' }).click();
    await expect(page.getByTestId('signed-in-user')).toContainText(user.login);

    // The button: a passkey and nothing else.
    await signOut(page);
    await page.goto(`${PASSKEY_ORG}/login`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect(page.getByTestId('signed-in-user')).toContainText(user.login);

    // An admin removes it: the browser still has the key, the server no longer takes it.
    const api = await adminApi(PASSKEY_ORG);
    expect((await api.delete(`/api/v1/users/${user.id}/factors/${factor.id}`)).status()).toBe(204);
    await api.dispose();
    await signOut(page);
    await page.goto(`${PASSKEY_ORG}/login`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect(page.getByRole('alert')).toContainText('Unable to sign in');
    await expect(page.getByTestId('signed-in-user')).toHaveCount(0);
  });

  test('a browser without WebAuthn gets the password form and no passkey button', async ({ page }) => {
    await page.addInitScript(() => { delete (window as any).PublicKeyCredential; });
    await page.goto(`${PASSKEY_ORG}/login`);
    await expect(page.getByLabel('Username')).toBeVisible();
    await expect(page.getByRole('button', { name: 'Sign in with a passkey' })).toBeHidden();
  });
});

test.describe('passkeys in widgets on another origin', () => {
  test("Okta's Sign-In Widget (features.webauthn) enrolls and verifies a passkey unmodified", async ({ page }) => {
    const key = await authenticator(page);
    const user = await createUser('okta-passkey', PASSKEY_ORG);
    const open = async () => {
      const query = new URLSearchParams({ baseUrl: PASSKEY_ORG, webauthn: '1' });
      await page.goto(`${HOST}/okta-widget.html?${query}`);
      await page.locator('#okta-signin-username').fill(user.login);
      await page.locator('#okta-signin-password').fill(user.password);
      await page.locator('#okta-signin-submit').click();
    };
    const outcome = async () => {
      await page.waitForFunction(() => (window as any).outcome !== null);
      return page.evaluate(() => (window as any).outcome);
    };
    await open();
    const choice = page.locator('[data-se="webauthn"], .enroll-factor-row:has(.mfa-webauthn)').first();
    await choice.getByRole('link', { name: 'Setup' }).click();
    await page.locator('input[type=submit][value="Enroll"], a:visible:text-is("Enroll")').last().click();
    expect((await outcome()).status).toBe('SUCCESS');
    const made = await key.credentials();
    expect(made).toHaveLength(1);
    expect(made[0].rpId).toBe('localhost');

    // The widget starts the passkey's verification as soon as it shows the factor.
    await open();
    const second = await outcome();
    expect(second.status).toBe('SUCCESS');
    expect(second.user).toBe(user.id);
  });

  test('the Portcullis widget enrolls a passkey and verifies with it', async ({ page }) => {
    const key = await authenticator(page);
    const user = await createUser('w-passkey', PASSKEY_ORG);
    const host = new WidgetHost(page);
    const w = host.widget();
    await host.goto(HOST, PASSKEY_ORG);
    await host.signIn(user.login, user.password);
    await w.locator('[data-factor="webauthn"]').getByRole('button', { name: 'Set up' }).click();
    await expect(w.getByRole('heading', { name: 'Create a passkey' })).toBeVisible();
    await w.getByRole('button', { name: 'Create passkey' }).click();
    expect((await host.outcome()).kind).toBe('success');
    expect(await key.credentials()).toHaveLength(1);

    await host.goto(HOST, PASSKEY_ORG);
    await host.signIn(user.login, user.password);
    await w.locator('[data-factor="webauthn"]').getByRole('button', { name: 'Use passkey' }).click();
    await w.getByRole('button', { name: 'Use passkey' }).click();
    const second = await host.outcome();
    expect(second.kind).toBe('success');
    expect(second.user.id).toBe(user.id);

    // The widget's passkey button: no username, no password, still both factors.
    await host.goto(HOST, PASSKEY_ORG);
    await w.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const third = await host.outcome();
    expect(third.kind).toBe('success');
    expect(third.user.id).toBe(user.id);
  });
});
