import { test, expect, Page } from '@playwright/test';
import { createUser } from './fixtures/users';
import { totp, currentStep } from './fixtures/totp';
import { HOST, POLICY_ORG, PORTCULLIS } from './fixtures/env';

// Okta's own Sign-In Widget 7 (classic engine), unmodified, on a page of another origin, against
// an org whose MFA enrollment policy requires Google Authenticator, leaves the security question
// optional and does not allow Okta Verify's TOTP.

async function open(page: Page, multiOptional: boolean) {
  const query = new URLSearchParams({ baseUrl: POLICY_ORG, multiOptional: multiOptional ? '1' : '0' });
  await page.goto(`${HOST}/okta-widget.html?${query}`);
}

async function signIn(page: Page, login: string, password: string) {
  await page.locator('#okta-signin-username').fill(login);
  await page.locator('#okta-signin-password').fill(password);
  await page.locator('#okta-signin-submit').click();
}

async function outcome(page: Page) {
  await page.waitForFunction(() => (window as any).outcome !== null);
  return page.evaluate(() => (window as any).outcome);
}

/** From the enroll-choices page: sets up Google Authenticator through the manual key. */
/** The widget's "Next": a link on some pages, a button on others. */
function next(page: Page) {
  // A page the widget is leaving stays in the document while it slides out: the newest wins.
  return page.locator('input[type=submit][value="Next"]:visible, a:visible:text-is("Next")').last();
}

async function enrollGoogleAuthenticator(page: Page): Promise<string> {
  await page.getByText('iPhone').click();
  await next(page).click();
  await expect(page.getByRole('img', { name: /QR code/ })).toBeVisible();
  await page.getByText("Can't scan?").click();
  // The manual setup shows the key as text.
  const secret = (await page.getByText(/^[A-Z2-7]{16,}$/).textContent())!.trim();
  await next(page).click();
  return secret;
}

test.describe("Okta's Sign-In Widget 7 (classic engine) on another origin", () => {
  test('the required factor is set up first, then the optional rest can be skipped with Finish', async ({ page }) => {
    const user = await createUser('okta-widget', POLICY_ORG);
    await open(page, true);
    await signIn(page, user.login, user.password);

    // The policy's required factor, and only it, is what the widget asks to configure.
    const choices = page.locator('.enroll-choices');
    await expect(choices).toBeVisible();
    await expect(choices).toContainText('Google Authenticator');
    await expect(choices).not.toContainText('Okta Verify');
    await page.screenshot({ path: test.info().outputPath('okta-widget-required.png') });
    await page.locator('input[type=submit][value="Configure factor"]').click();

    const secret = await enrollGoogleAuthenticator(page);
    await page.locator('input[name=passCode]').fill(totp(secret, currentStep()));
    await page.locator('input[type=submit][value="Verify"]').click();

    // Required done: the optional security question is offered, with Finish.
    await expect(page.locator('.enroll-choices')).toContainText('Security Question');
    await page.screenshot({ path: test.info().outputPath('okta-widget-optional.png') });
    await page.locator('input[type=submit][value="Finish"]').click();
    const done = await outcome(page);
    expect(done.status).toBe('SUCCESS');
    expect(done.user).toBe(user.id);

    // The next sign-in verifies the factor instead (a page without multiOptionalFactorEnroll:
    // with it, the optional question is offered again after the code, as Okta does).
    await open(page, false);
    await signIn(page, user.login, user.password);
    await page.locator('input[name=answer]:visible').fill(totp(secret, currentStep() + 1));
    await page.locator('input[type=submit][value="Verify"]:visible').click();
    expect((await outcome(page)).status).toBe('SUCCESS');
  });

  test('after the required factor, the optional security question is set up through the question list', async ({ page }) => {
    const user = await createUser('okta-widget-q', POLICY_ORG);
    await open(page, true);
    await signIn(page, user.login, user.password);
    await page.locator('input[type=submit][value="Configure factor"]').click();
    const secret = await enrollGoogleAuthenticator(page);
    await page.locator('input[name=passCode]').fill(totp(secret, currentStep()));
    await page.locator('input[type=submit][value="Verify"]').click();

    // The question list comes from the transaction's link, fetched cross-origin with credentials.
    const optional = page.locator('.enroll-choices');
    // (The org offers passkeys too, which Okta's widget without `features.webauthn` lists as
    // Windows Hello, as it does for Okta.)
    await optional.getByRole('listitem').filter({ hasText: 'Security Question' })
      .getByRole('link', { name: 'Setup' }).click();
    const question = page.locator('select[name=question]:visible, [name=question]:visible').first();
    await expect(question).toBeVisible();
    await page.screenshot({ path: test.info().outputPath('okta-widget-question.png') });
    await question.selectOption({ index: 1 });
    await page.locator('input[name=answer]:visible').fill('the blue heron');
    await page.locator('input[type=submit][value="Save"]:visible').click();
    // Only the passkey is left, optional: Finish completes the sign-in.
    await page.locator('input[type=submit][value="Finish"]').click();
    const done = await outcome(page);
    expect(done.status).toBe('SUCCESS');
    expect(done.user).toBe(user.id);
  });
});

test.describe("a page written for Okta's widget, with Portcullis's script tag instead", () => {
  test('new OktaSignIn(…).renderEl signs in and calls back as Okta does', async ({ page }) => {
    const user = await createUser('drop-in');
    const query = new URLSearchParams({ baseUrl: PORTCULLIS });
    const response = await page.goto(`${HOST}/okta-widget-drop-in.html?${query}`);
    const html = await response!.text();
    expect(html).toContain('/widget/v1/portcullis-signin.js');
    expect(html).toContain('new OktaSignIn(');
    const w = page.locator('#okta-login-container [data-portcullis-widget]');
    await w.getByLabel('Username', { exact: true }).fill(user.login);
    await w.getByLabel('Password', { exact: true }).fill(user.password);
    await w.getByRole('button', { name: 'Sign in', exact: true }).click();
    const done = await outcome(page);
    expect(done.status).toBe('SUCCESS');
    expect(done.user).toBe(user.id);
    expect(done.sessionToken).toBeTruthy();
  });
});

test.describe("the policy org's own hosted pages", () => {
  test('mark the required factor and leave out the one not allowed', async ({ page }) => {
    const user = await createUser('policy-hosted', POLICY_ORG);
    await page.goto(`${POLICY_ORG}/login`);
    await page.getByLabel('Username', { exact: true }).fill(user.login);
    await page.getByLabel('Password', { exact: true }).fill(user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page.getByRole('heading', { name: 'Set up a second step' })).toBeVisible();
    await expect(page.locator('[data-factor="totp-GOOGLE"] .pc-badge')).toHaveText('Required');
    await expect(page.locator('[data-factor="question"] .pc-badge')).toHaveCount(0);
    await expect(page.locator('[data-factor="totp-OKTA"]')).toHaveCount(0);
    // No way past a required factor.
    await expect(page.getByRole('button', { name: 'Skip for now' })).toHaveCount(0);
    await page.screenshot({ path: test.info().outputPath('policy-hosted.png'), fullPage: true });
  });
});
