import { test, expect } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { createUser } from './fixtures/users';
import { requireMfa, expirePassword } from './fixtures/admin';
import { WidgetHost, failOnPageErrors } from './fixtures/pages';
import { totp, currentStep } from './fixtures/totp';
import { waitForCode, waitForLinkToken } from './fixtures/mail';
import { PORTCULLIS, HOST } from './fixtures/env';
import { registerSpa } from './fixtures/oauth';

test.describe('every sign-in step inside the widget on another origin', () => {
  test('TOTP enrollment with QR code and key, then verification', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    const user = await createUser('w-totp');
    await requireMfa(user.id);
    const host = new WidgetHost(page);
    await host.goto(HOST, PORTCULLIS);
    const w = host.widget();
    await host.signIn(user.login, user.password);
    await expect(w.getByRole('heading', { name: 'Set up a second step' })).toBeVisible();
    await w.locator('[data-factor="totp-GOOGLE"]').getByRole('button', { name: 'Set up' }).click();
    await expect(w.getByRole('img', { name: 'QR code for your authenticator app' })).toBeVisible();
    // The widget's own markup (in its shadow root) has no serious accessibility problems.
    const a11y = await new AxeBuilder({ page }).include('#signin').analyze();
    expect(a11y.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
    const qrLoaded = await w.locator('img.pc-qr').evaluate((img: HTMLImageElement) =>
      img.complete && img.naturalWidth > 0);
    expect(qrLoaded).toBe(true);
    const secret = (await w.getByTestId('totp-secret').textContent())!.trim();
    await w.getByLabel('Code').fill('000000');
    await w.getByRole('button', { name: 'Verify' }).click();
    await expect(w.getByRole('alert')).toContainText('That code is not right');
    const step = currentStep();
    await w.getByLabel('Code').fill(totp(secret, step));
    await w.getByRole('button', { name: 'Verify' }).click();
    const first = await host.outcome();
    expect(first.kind).toBe('success');
    expect(first.user.id).toBe(user.id);
    await page.screenshot({ path: test.info().outputPath('widget-after-enroll.png') });

    // A second visit: verification with the next code.
    await host.goto(HOST, PORTCULLIS);
    await host.signIn(user.login, user.password);
    await expect(w.getByRole('heading', { name: "Verify it's you" })).toBeVisible();
    await w.locator('[data-factor="totp-GOOGLE"]').getByLabel('Code').fill(totp(secret, step + 1));
    await w.locator('[data-factor="totp-GOOGLE"]').getByRole('button', { name: 'Verify' }).click();
    expect((await host.outcome()).kind).toBe('success');
    const rendered = await page.evaluate(() => (window as any).rendered);
    expect(rendered).toContain('mfa-verify');
    noErrors();
  });

  test('email codes and the security question', async ({ page }) => {
    const user = await createUser('w-mail');
    await requireMfa(user.id);
    const host = new WidgetHost(page);
    await host.goto(HOST, PORTCULLIS);
    const w = host.widget();
    await host.signIn(user.login, user.password);
    await w.locator('[data-factor="email"]').getByRole('button', { name: 'Set up' }).click();
    await expect(w.getByRole('heading', { name: 'Confirm your email' })).toBeVisible();
    await w.getByLabel('Code').fill(await waitForCode(user.login, 0));
    await w.getByRole('button', { name: 'Verify' }).click();
    expect((await host.outcome()).kind).toBe('success');

    const q = await createUser('w-question');
    await requireMfa(q.id);
    await host.goto(HOST, PORTCULLIS);
    await host.signIn(q.login, q.password);
    const section = w.locator('[data-factor="question"]');
    await section.getByLabel('Choose a question').selectOption({ index: 2 });
    await section.getByLabel('Your answer').fill('Silver medal');
    await section.getByRole('button', { name: 'Set up' }).click();
    expect((await host.outcome()).user.id).toBe(q.id);
  });

  test('an expired password is changed in the widget', async ({ page }) => {
    const user = await createUser('w-expired');
    await expirePassword(user.id);
    const host = new WidgetHost(page);
    await host.goto(HOST, PORTCULLIS);
    const w = host.widget();
    await host.signIn(user.login, user.password);
    await expect(w.getByRole('heading', { name: 'Your password has expired' })).toBeVisible();
    await w.getByLabel('Current password').fill(user.password);
    await w.getByLabel('New password', { exact: true }).fill('Widget-Fresh-31');
    await expect(w.locator('#password-rules li[data-met="false"]')).toHaveCount(0);
    await w.getByLabel('Repeat the new password').fill('Widget-Fresh-32');
    await w.getByRole('button', { name: 'Change password' }).click();
    await expect(w.getByRole('alert')).toContainText('not the same');
    await w.getByLabel('Repeat the new password').fill('Widget-Fresh-31');
    await w.getByRole('button', { name: 'Change password' }).click();
    expect((await host.outcome()).kind).toBe('success');
  });

  test('forgot password by email, then the reset from recoveryToken', async ({ page }) => {
    const user = await createUser('w-forgot');
    const host = new WidgetHost(page);
    await host.goto(HOST, PORTCULLIS);
    const w = host.widget();
    await w.getByRole('button', { name: 'Forgot password?' }).click();
    await w.getByLabel('Username', { exact: true }).fill(user.login);
    await w.getByRole('button', { name: 'Send reset link' }).click();
    await expect(w.getByTestId('widget-notice')).toContainText('an email with a link is on its way');

    // The emailed link's token, handed to the widget the way a site's reset page would.
    const token = await waitForLinkToken(user.login, '/signin/reset-password/');
    await host.goto(HOST, PORTCULLIS, { recoveryToken: token });
    await expect(w.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
    await w.getByLabel('New password', { exact: true }).fill('Widget-Reset-77');
    await w.getByLabel('Repeat the new password').fill('Widget-Reset-77');
    await w.getByRole('button', { name: 'Change password' }).click();
    expect((await host.outcome()).kind).toBe('success');
  });

  test('self-service unlock by email', async ({ page }) => {
    const user = await createUser('w-unlock');
    const host = new WidgetHost(page);
    await host.goto(HOST, PORTCULLIS, { features: { selfServiceUnlock: true } });
    const w = host.widget();
    for (let i = 0; i < 10; i++) {
      // Each attempt's own answer, not the alert left by the one before.
      const answered = page.waitForResponse(
        (r) => new URL(r.url()).pathname === '/api/v1/authn' && r.request().method() === 'POST',
      );
      await host.signIn(user.login, `Wrong-Guess-${i}y`);
      await answered;
      await expect(w.getByRole('alert')).toContainText('Unable to sign in');
    }
    await w.getByRole('button', { name: 'Unlock account?' }).click();
    await w.getByLabel('Username', { exact: true }).fill(user.login);
    await w.getByRole('button', { name: 'Send unlock link' }).click();
    await expect(w.getByTestId('widget-notice')).toBeVisible();
    const token = await waitForLinkToken(user.login, '/signin/user-unlock/');
    await host.goto(HOST, PORTCULLIS, { recoveryToken: token });
    await expect(w.getByTestId('widget-notice')).toContainText('You can sign in again now');
    await w.getByRole('button', { name: 'Back to sign in' }).click();
    await host.signIn(user.login, user.password);
    expect((await host.outcome()).kind).toBe('success');
  });
});

test.describe('widget options', () => {
  test('language, i18n, helpLinks, custom buttons, remember me; hide and show', async ({ page }) => {
    const user = await createUser('w-options');
    const host = new WidgetHost(page);
    await host.goto(HOST, PORTCULLIS, {
      language: 'fr',
      i18n: { fr: { 'primaryauth.submit': 'Entrer' } },
      helpLinks: { help: 'https://help.example.com/', custom: [{ text: 'Statut', href: 'https://status.example.com/' }] },
    }, '&buttons=1');
    const w = host.widget();
    await expect(w.getByRole('button', { name: 'Entrer' })).toBeVisible();
    await expect(w.getByLabel("Nom d'utilisateur", { exact: true })).toBeVisible();
    await expect(w.getByRole('link', { name: 'Statut' })).toHaveAttribute('href', 'https://status.example.com/');
    await w.getByRole('button', { name: 'Sign in with a passkey' }).click();
    expect(await page.evaluate(() => (window as any).customClicked)).toBe(true);

    await page.evaluate(() => (window as any).signIn.hide());
    await expect(w).toBeHidden();
    await page.evaluate(() => (window as any).signIn.show());
    await expect(w).toBeVisible();

    // Remember me keeps the username for the next visit.
    await w.getByLabel("Nom d'utilisateur", { exact: true }).fill(user.login);
    await w.getByLabel('Mot de passe', { exact: true }).fill(user.password);
    await w.getByRole('checkbox').first().check();
    await w.getByRole('button', { name: 'Entrer' }).click();
    expect((await host.outcome()).kind).toBe('success');
    await host.goto(HOST, PORTCULLIS);
    await expect(w.getByLabel('Username', { exact: true })).toHaveValue(user.login);
  });

  test('styles are isolated in a shadow root, and the host themes it with custom properties', async ({ page }) => {
    const host = new WidgetHost(page);
    await host.goto(HOST, PORTCULLIS);
    const button = host.widget().getByRole('button', { name: 'Sign in', exact: true });
    await expect(button).toBeVisible();
    // The host page's hostile `button { text-transform: uppercase }` and dashed inputs stay out.
    expect(await button.evaluate((b) => getComputedStyle(b).textTransform)).toBe('none');
    const input = host.widget().getByLabel('Username', { exact: true });
    expect(await input.evaluate((i) => getComputedStyle(i).borderStyle)).not.toBe('dashed');
    expect(await page.evaluate(() => !!document.querySelector('#signin')!.shadowRoot)).toBe(true);
    await page.evaluate(() => document.querySelector<HTMLElement>('#signin')!.style.setProperty('--pc-brand', 'rgb(200, 0, 0)'));
    expect(await button.evaluate((b) => getComputedStyle(b).backgroundColor)).toBe('rgb(200, 0, 0)');
  });

  test('showSignInAndRedirect goes through /authorize to the redirect URI with a code', async ({ page }) => {
    const user = await createUser('w-redirect');
    const callback = `${HOST}/callback.html`;
    const { client_id } = await registerSpa(callback);
    const host = new WidgetHost(page);
    await host.goto(HOST, PORTCULLIS);
    await page.evaluate(({ baseUrl, clientId, redirectUri }) => {
      const w = window as any;
      w.signIn.remove();
      w.redirecting = new w.PortcullisSignIn({ baseUrl, clientId, redirectUri, authParams: { issuer: `${baseUrl}/oauth2/default` } });
      w.redirecting.showSignInAndRedirect({ el: '#signin' });
    }, { baseUrl: PORTCULLIS, clientId: client_id, redirectUri: callback });
    await host.signIn(user.login, user.password);
    await page.waitForURL((u) => u.href.startsWith(callback));
    const url = new URL(page.url());
    expect(url.searchParams.get('code')).toBeTruthy();
    const tx = await page.evaluate(() => JSON.parse(sessionStorage.getItem('portcullis-transaction')!));
    expect(url.searchParams.get('state')).toBe(tx.state);
    expect(tx.issuer).toBe(`${PORTCULLIS}/oauth2/default`);
    // The page at the redirect URI finishes the exchange with the stored verifier.
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
    expect(tokens.id_token).toBeTruthy();
  });
});
