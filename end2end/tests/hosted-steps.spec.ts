import { test, expect, Page } from '@playwright/test';
import { createUser } from './fixtures/users';
import { requireMfa, expirePassword } from './fixtures/admin';
import { registerSpa } from './fixtures/oauth';
import { SignInPage, expectAccessible, failOnPageErrors } from './fixtures/pages';
import { totp, currentStep } from './fixtures/totp';
import { waitForCode, waitForLinkToken } from './fixtures/mail';
import { PORTCULLIS, HOST } from './fixtures/env';

async function shot(page: Page, name: string) {
  await page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
}

/** Signs in on /login; the caller checks where that leads. */
async function signIn(page: Page, login: string, password: string) {
  const p = new SignInPage(page);
  await p.goto();
  await p.signIn(login, password);
}

test.describe('hosted pages for every sign-in step', () => {
  test('TOTP: required enrollment with a QR code and key, then verification at the next sign-in', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    const user = await createUser('totp');
    await requireMfa(user.id);
    await signIn(page, user.login, user.password);

    await expect(page).toHaveURL(/\/signin\/step$/);
    await expect(page.getByRole('heading', { name: 'Set up a second step' })).toBeVisible();
    await expectAccessible(page);
    await shot(page, 'mfa-enroll');
    await page.locator('[data-factor="totp-GOOGLE"]').getByRole('button', { name: 'Set up' }).click();

    await expect(page.getByRole('heading', { name: 'Set up your authenticator app' })).toBeVisible();
    await expect(page.getByRole('img', { name: 'QR code for your authenticator app' })).toBeVisible();
    const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    await expectAccessible(page);
    await shot(page, 'totp-enroll');
    // A reload shows the same step (the state lives in an HttpOnly cookie, not the page).
    await page.reload();
    await expect(page.getByTestId('totp-secret')).toHaveText(secret);
    // A wrong code is refused in words, announced, and the step stays.
    await page.getByLabel('Code').fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page.getByRole('alert')).toContainText('That code is not right');
    const step = currentStep();
    await page.getByLabel('Code').fill(totp(secret, step));
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page.getByTestId('signed-in-user')).toContainText(user.login);
    const flow = (await page.context().cookies()).find((c) => c.name === 'pc_flow');
    expect(flow).toBeUndefined();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, user.login, user.password);
    await expect(page.getByRole('heading', { name: "Verify it's you" })).toBeVisible();
    await expectAccessible(page);
    await shot(page, 'mfa-verify');
    const section = page.locator('[data-factor="totp-GOOGLE"]');
    await section.getByLabel('Code').fill(totp(secret, step + 1));
    await section.getByRole('button', { name: 'Verify' }).click();
    await expect(page.getByTestId('signed-in-user')).toContainText(user.login);
    noErrors();
  });

  test('email codes: enrollment and verification with codes read from the mailbox', async ({ page }) => {
    const user = await createUser('mailmfa');
    await requireMfa(user.id);
    await signIn(page, user.login, user.password);
    await page.locator('[data-factor="email"]').getByRole('button', { name: 'Set up' }).click();
    await expect(page.getByRole('heading', { name: 'Confirm your email' })).toBeVisible();
    await page.getByLabel('Code').fill(await waitForCode(user.login, 0));
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page.getByTestId('signed-in-user')).toContainText(user.login);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, user.login, user.password);
    await page.locator('[data-factor="email"]').getByRole('button', { name: 'Send me a code' }).click();
    await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible();
    await expectAccessible(page);
    await page.getByLabel('Code').fill(await waitForCode(user.login, 1));
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page.getByTestId('signed-in-user')).toContainText(user.login);
  });

  test('security question: enrollment, then the question at the next sign-in', async ({ page }) => {
    const user = await createUser('question');
    await requireMfa(user.id);
    // A phone's width: the longest question must not push the picker out of its card.
    await page.setViewportSize({ width: 320, height: 800 });
    await signIn(page, user.login, user.password);
    const section = page.locator('[data-factor="question"]');
    await expect(section.getByLabel('Choose a question')).toBeVisible();
    // No error yet, so no (empty) error banner above the heading.
    await expect(page.locator('.pc-error')).toBeHidden();
    // Geometry read while a stylesheet is still arriving is not what anyone sees: measure
    // once the page has loaded, and let the layout settle.
    await page.waitForLoadState('load');
    const overhang = async () => {
      const card = (await page.locator('.pc-card').first().boundingBox())!;
      const picker = (await section.getByLabel('Choose a question').boundingBox())!;
      return picker.x + picker.width - (card.x + card.width);
    };
    await expect.poll(overhang).toBeLessThanOrEqual(0);
    await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(320);
    await page.setViewportSize({ width: 1280, height: 800 });
    await section.getByLabel('Choose a question').selectOption({ index: 1 });
    await section.getByLabel('Your answer').fill('Gatekeeper Gus');
    await section.getByRole('button', { name: 'Set up' }).click();
    await expect(page.getByTestId('signed-in-user')).toContainText(user.login);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, user.login, user.password);
    const verify = page.locator('[data-factor="question"]');
    await verify.locator('input[name="answer"]').fill('wrong answer');
    await verify.getByRole('button', { name: 'Verify' }).click();
    await expect(page.getByRole('alert')).toContainText('That answer is not right');
    await page.locator('[data-factor="question"] input[name="answer"]').fill('gatekeeper gus');
    await page.locator('[data-factor="question"]').getByRole('button', { name: 'Verify' }).click();
    await expect(page.getByTestId('signed-in-user')).toContainText(user.login);
  });

  test('an expired password is changed on the page, with the requirements ticked off while typing', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    const user = await createUser('expired');
    await expirePassword(user.id);
    await signIn(page, user.login, user.password);
    await expect(page.getByRole('heading', { name: 'Your password has expired' })).toBeVisible();
    const rules = page.locator('#password-rules li');
    await expect(rules.first()).toHaveAttribute('data-met', 'false');
    // The list follows the typing once the page is interactive.
    await page.getByLabel('New password', { exact: true }).fill('Fresh-Keep-2027');
    await expect(page.locator('#password-rules li[data-met="false"]')).toHaveCount(0);
    await expectAccessible(page);
    await shot(page, 'password-expired');
    await page.getByLabel('Current password').fill(user.password);
    await page.getByLabel('Repeat the new password').fill('Fresh-Keep-2028');
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect(page.getByRole('alert')).toContainText('not the same');
    await page.getByLabel('Current password').fill(user.password);
    await page.getByLabel('New password', { exact: true }).fill('Fresh-Keep-2027');
    await page.getByLabel('Repeat the new password').fill('Fresh-Keep-2027');
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect(page.getByTestId('signed-in-user')).toContainText(user.login);
    noErrors();
  });

  test('a new password typed before the script has loaded is ticked off once it has', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    // Hold the page's WebAssembly back until the field has been filled, as on a slow link.
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/pkg/*.wasm', async (route) => {
      await gate;
      await route.continue().catch(() => {}); // a request from a page left behind is gone
    });
    const user = await createUser('expired-early');
    await expirePassword(user.id);
    await signIn(page, user.login, user.password);
    await expect(page.getByRole('heading', { name: 'Your password has expired' })).toBeVisible();
    await page.getByLabel('New password', { exact: true }).fill('Fresh-Keep-2027');
    await expect(page.locator('#password-rules li[data-met="false"]')).not.toHaveCount(0);
    release();
    await expect(page.locator('#password-rules li[data-met="false"]')).toHaveCount(0);
    noErrors();
  });

  test('forgot password: email link, a button before the token is spent, new password, signed in', async ({ page }) => {
    const user = await createUser('forgot');
    await page.goto('/login');
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await expect(page.getByRole('heading', { name: 'Reset your password' })).toBeVisible();
    await expectAccessible(page);
    await page.getByLabel('Username', { exact: true }).fill(user.login);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await expect(page.getByTestId('notice')).toContainText('an email with a link is on its way');
    await shot(page, 'check-email');

    const token = await waitForLinkToken(user.login, '/signin/reset-password/');
    await page.goto(`/signin/reset-password/${token}`);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
    await page.getByLabel('New password', { exact: true }).fill('Brand-New-Gate-9');
    await page.getByLabel('Repeat the new password').fill('Brand-New-Gate-9');
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect(page.getByTestId('signed-in-user')).toContainText(user.login);

    // The link worked once.
    await page.goto(`/signin/reset-password/${token}`);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect(page.getByTestId('notice')).toContainText('expired or was already used');
  });

  test('an unknown username gets the same "check your email" page', async ({ page }) => {
    await page.goto('/signin/forgot-password');
    await page.getByLabel('Username', { exact: true }).fill('nobody-here@example.com');
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await expect(page.getByTestId('notice')).toContainText('If the username belongs to an account');
  });

  test('a locked account is unlocked from the emailed link', async ({ page }) => {
    const user = await createUser('locked');
    const signInPage = new SignInPage(page);
    await signInPage.goto();
    for (let i = 0; i < 10; i++) {
      await page.getByLabel('Username', { exact: true }).fill(user.login);
      await page.getByLabel('Password', { exact: true }).fill(`Wrong-Guess-${i}x`);
      // Wait for this attempt's own answer: the error text is already on the page from the
      // one before, so it alone would let the next attempt start while this one is in flight.
      const answered = page.waitForResponse(
        (r) => new URL(r.url()).pathname === '/login' && r.request().method() === 'POST',
      );
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await answered;
      await expect(signInPage.error()).toContainText('Unable to sign in');
    }
    await page.getByRole('link', { name: 'Unlock account?' }).click();
    await page.getByLabel('Username', { exact: true }).fill(user.login);
    await page.getByRole('button', { name: 'Send unlock link' }).click();
    await expect(page.getByTestId('notice')).toBeVisible();
    const token = await waitForLinkToken(user.login, '/signin/user-unlock/');
    await page.goto(`/signin/user-unlock/${token}`);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect(page.getByRole('heading', { name: 'Your account is unlocked' })).toBeVisible();
    await expectAccessible(page);
    await signIn(page, user.login, user.password);
    await expect(page.getByTestId('signed-in-user')).toContainText(user.login);
  });

  test('an app sends the person through MFA and gets its code back', async ({ page }) => {
    const user = await createUser('app-mfa');
    await requireMfa(user.id);
    const callback = `${HOST}/callback.html`;
    const { client_id } = await registerSpa(callback);
    const q = new URLSearchParams({
      client_id, redirect_uri: callback, response_type: 'code', scope: 'openid', state: 'app-state',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
    });
    await page.goto(`${PORTCULLIS}/oauth2/v1/authorize?${q}`);
    await page.waitForURL(/\/login\?fromURI=/);
    await new SignInPage(page).signIn(user.login, user.password);
    await page.locator('[data-factor="totp-OKTA"]').getByRole('button', { name: 'Set up' }).click();
    const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
    await page.getByLabel('Code').fill(totp(secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL((u) => u.href.startsWith(callback));
    const back = new URL(page.url());
    expect(back.searchParams.get('state')).toBe('app-state');
    expect(back.searchParams.get('code')).toBeTruthy();
  });

  test('pages speak German and French, from Accept-Language or ?lang=', async ({ browser }) => {
    const context = await browser.newContext({ locale: 'de-DE' });
    const page = await context.newPage();
    await page.goto('/login');
    await expect(page.getByRole('heading', { name: 'Anmelden' })).toBeVisible();
    await expect(page.locator('html')).toHaveAttribute('lang', 'de');
    await page.goto('/login?lang=fr');
    await expect(page.getByRole('heading', { name: 'Se connecter' })).toBeVisible();
    await page.getByRole('link', { name: 'English' }).click();
    await expect(page.getByRole('heading', { name: 'Sign in', exact: true })).toBeVisible();
    await context.close();
  });
});

test.describe('accessibility of the other pages', () => {
  test('the error and sign-in pages are accessible', async ({ page }) => {
    await page.goto('/oauth2/v1/authorize?client_id=nope');
    await expect(page.getByTestId('error-message')).toBeVisible();
    await expectAccessible(page);
    await shot(page, 'error');
    await page.goto('/login');
    await expectAccessible(page);
    await shot(page, 'sign-in');
  });
});

test.describe('hosted steps without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('TOTP enrollment and the back button work as plain forms', async ({ page }) => {
    const user = await createUser('nojs-totp');
    await requireMfa(user.id);
    await signIn(page, user.login, user.password);
    await page.locator('[data-factor="totp-GOOGLE"]').getByRole('button', { name: 'Set up' }).click();
    const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
    // Back to the list and forward again: the page always shows where the sign-in is.
    await page.goBack();
    await expect(page.getByRole('heading', { name: 'Set up your authenticator app' })).toBeVisible();
    await page.reload();
    await page.getByLabel('Code').fill(totp(secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page.getByTestId('signed-in-user')).toContainText(user.login);
  });

});
