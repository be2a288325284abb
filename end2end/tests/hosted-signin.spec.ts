import { test, expect } from '@playwright/test';
import { createUser } from './fixtures/users';
import { SignInPage, failOnPageErrors } from './fixtures/pages';

test.describe('hosted sign-in page (hydrated)', () => {
  test('a person signs in with the right password and sees who is signed in', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    const user = await createUser('hosted');
    const signIn = new SignInPage(page);
    await signIn.goto();
    await signIn.waitForHydration();
    // Once interactive, the password can be shown while typing it.
    const password = page.getByLabel('Password', { exact: true });
    await password.fill(user.password);
    await page.getByLabel('Show password').check();
    await expect(password).toHaveAttribute('type', 'text');
    await page.getByLabel('Show password').uncheck();
    await expect(password).toHaveAttribute('type', 'password');
    await signIn.signIn(user.login, user.password);
    await expect(signIn.signedInAs()).toContainText(`${user.firstName} ${user.lastName}`);
    await expect(signIn.signedInAs()).toContainText(user.login);
    const cookies = await page.context().cookies();
    const sid = cookies.find((c) => c.name === 'sid');
    expect(sid?.httpOnly).toBe(true);
    await page.screenshot({ path: test.info().outputPath('signed-in.png') });

    await signIn.signOut();
    await expect(page.getByRole('heading', { name: 'You are signed out' })).toBeVisible();
    await expect(page).toHaveURL(/\/signin\/signed-out$/);
    noErrors();
  });

  test('a wrong password shows an error in place, without reloading the page', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    const user = await createUser('hosted-bad');
    const signIn = new SignInPage(page);
    await signIn.goto();
    await signIn.waitForHydration();
    // A marker that a full page load would wipe out.
    await page.evaluate(() => ((window as any).__stillHere = true));
    await signIn.signIn(user.login, 'Not-The-Password-7');
    await expect(signIn.error()).toContainText('Unable to sign in');
    expect(await page.evaluate(() => (window as any).__stillHere)).toBe(true);
    await expect(page.getByLabel('Username', { exact: true })).toHaveValue(user.login);
    await page.screenshot({ path: test.info().outputPath('sign-in-error.png') });

    // The replaced anti-forgery token lets the next try through, still without a reload.
    await page.getByLabel('Password', { exact: true }).fill(user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(signIn.signedInAs()).toContainText(user.login);
    noErrors();
  });

  test('an unknown user gets exactly the same message as a wrong password', async ({ page }) => {
    const signIn = new SignInPage(page);
    await signIn.goto();
    await signIn.waitForHydration();
    await signIn.signIn('nobody-at-all@example.com', 'Whatever-Pass-1');
    await expect(signIn.error()).toHaveText(
      'Unable to sign in. Check your username and password and try again.',
    );
  });
});
